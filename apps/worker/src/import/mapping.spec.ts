import { cleanJson, cleanText, conversationHash, fromEpochMs, fromEpochSeconds, fromTimeText, parseJsonText } from './mapping';
import { stableId } from './stable-id';

describe('import mapping helpers', () => {
  it('reads the time shapes legacy stores use, in UTC, and refuses implausible ones', () => {
    expect(fromEpochMs(1737626400000)).toEqual(new Date('2025-01-23T10:00:00.000Z'));
    expect(fromEpochMs('1737626400123')).toEqual(new Date('2025-01-23T10:00:00.123Z'));
    expect(fromEpochMs(-5)).toBeNull();
    expect(fromEpochMs(1737626400 * 1e6)).toBeNull(); // microseconds read as ms: year 56 000
    expect(fromEpochSeconds(1737626400.5)).toEqual(new Date('2025-01-23T10:00:00.500Z'));
    expect(fromTimeText('2025-01-23 10:00:00.123456')).toEqual(new Date('2025-01-23T10:00:00.123Z'));
    expect(fromTimeText('2025-01-23T10:06:00+01:00')).toEqual(new Date('2025-01-23T09:06:00.000Z'));
    expect(fromTimeText('2025-01-23T10:06:00+0130')).toEqual(new Date('2025-01-23T08:36:00.000Z'));
    expect(fromTimeText('2025-01-23T10:00Z')).toEqual(new Date('2025-01-23T10:00:00.000Z'));
    expect(fromTimeText('yesterday')).toBeNull();
    expect(fromTimeText(null)).toBeNull();
  });

  it('keeps malformed JSON text as raw text instead of failing', () => {
    expect(parseJsonText('{"a":[1,2]}')).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(parseJsonText('  ')).toBeNull();
    expect(parseJsonText('{"a":')).toEqual({ ok: false, raw: '{"a":', error: expect.any(String) });
  });

  it('removes what PostgreSQL cannot store', () => {
    let changed = 0;
    expect(cleanText('a\u0000b', () => changed++)).toBe('ab');
    expect(cleanJson({ 'k\u0000': ['x\u0000', Number.NaN, 1] }, () => changed++)).toEqual({ k: ['x', null, 1] });
    expect(changed).toBe(3);
  });

  it('derives stable, organization-specific UUIDs', () => {
    const a = stableId('org-1', 'message', 'agentos:t1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stableId('org-1', 'message', 'agentos:t1')).toBe(a);
    expect(stableId('org-2', 'message', 'agentos:t1')).not.toBe(a);
    expect(stableId('org-1', 'conversation', 'agentos:t1')).not.toBe(a);
  });

  it('fingerprints a conversation by the order of (role, content)', () => {
    const m = (role: 'user' | 'assistant', content: string) => ({ role, content });
    const h = conversationHash([m('user', 'hi'), m('assistant', 'hello')]);
    expect(conversationHash([m('user', 'hi'), m('assistant', 'hello')])).toBe(h);
    expect(conversationHash([m('assistant', 'hello'), m('user', 'hi')])).not.toBe(h);
    expect(conversationHash([m('user', 'hi'), m('user', 'hello')])).not.toBe(h);
  });
});
