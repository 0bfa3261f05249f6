import { UnavailableLog } from './problem.filter';

describe('UnavailableLog', () => {
  it('logs a cause of 503s at once, then once per window with how many requests it also failed, and each cause on its own', () => {
    let now = 1_000_000;
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const logger = { warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) };
    const log = new UnavailableLog(10_000, () => now);
    const pool = 'Error: timeout exceeded when trying to connect';
    const refused = 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432';

    log.note(pool, 'r1', logger);
    for (let i = 2; i <= 50; i++) log.note(pool, `r${i}`, logger);
    log.note(refused, 'r51', logger);
    expect(lines.map((l) => l.fields)).toEqual([
      { cause: pool, requestId: 'r1', alsoFailedSinceLastLine: 0 },
      { cause: refused, requestId: 'r51', alsoFailedSinceLastLine: 0 },
    ]);
    expect(lines[0].message).toBe(`the database could not serve the request (503): ${pool}`);

    now += 9_999;
    log.note(pool, 'r52', logger);
    expect(lines).toHaveLength(2);
    now += 1;
    log.note(pool, 'r53', logger);
    expect(lines[2].fields).toEqual({ cause: pool, requestId: 'r53', alsoFailedSinceLastLine: 50 });
    expect(lines[2].message).toContain('(and 50 more requests since the last such line)');
  });
});

describe('UnavailableLog, bounded', () => {
  it('remembers at most 100 causes, forgetting the one logged longest ago first', () => {
    const lines: string[] = [];
    const logger = { warn: (fields: Record<string, unknown>) => lines.push(String(fields['cause'])) };
    const log = new UnavailableLog(10_000, () => 0);
    for (let i = 0; i <= 100; i++) log.note(`cause ${i}`, `r${i}`, logger);
    expect(lines).toHaveLength(101);
    // cause 0 was forgotten for cause 100: logged again, inside its window; cause 50 is still remembered.
    log.note('cause 0', 'again', logger);
    log.note('cause 50', 'again', logger);
    expect(lines.slice(101)).toEqual(['cause 0']);
  });
});
