import pg from 'pg';
import { Prisma } from '../generated/prisma/client';
import { escapeLiteral, inlineSql } from './raw-session';

describe('raw-session literals', () => {
  it.each(['', 'plain', "it's", 'back\\slash', "both ' and \\ ", "\\'\\'", 'ünï ☃ \'\\n\' "x"', '{"a":"b\\"c"}'])(
    'escapeLiteral(%j) is exactly pg.escapeLiteral',
    (text) => {
      expect(escapeLiteral(text)).toBe(pg.escapeLiteral(text));
    },
  );

  it('writes bind values in as the literals pg would send (arrays, JSON, null, numbers, booleans)', () => {
    const sql = Prisma.sql`select ${"o'k"}::text, ${[1, 2]}::int[], ${['a', "b'c"]}::text[], ${null}::uuid, ${JSON.stringify({ k: "v'" })}::jsonb, ${true}::boolean, ${10}::int`;
    expect(inlineSql(sql)).toBe(
      `select 'o''k'::text, '{"1","2"}'::int[], '{"a","b''c"}'::text[], NULL::uuid, '{"k":"v''"}'::jsonb, 'true'::boolean, '10'::int`,
    );
  });

  it('writes a date as pg sends it: the same instant with its offset', () => {
    const text = inlineSql(Prisma.sql`select ${new Date('2026-11-30T06:00:00.123Z')}::timestamptz`);
    const literal = /^select '(.+)'::timestamptz$/.exec(text)?.[1];
    expect(new Date(literal!).toISOString()).toBe('2026-11-30T06:00:00.123Z');
  });

  it('refuses a statement with a "$" that is not a placeholder', () => {
    expect(() => inlineSql({ text: "select $tag$x$tag$, $1", values: [1] })).toThrow(/not a placeholder/);
  });
});
