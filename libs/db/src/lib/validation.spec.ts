import { InvalidInputError } from './errors';
import { checkJson, checkText, MAX_TEXT_LENGTH, throwIfProblems, type Problem } from './validation';

describe('validation', () => {
  it('flags text PostgreSQL cannot store or index', () => {
    const problems: Problem[] = [];
    checkText('fine', 'a', problems);
    checkText(null, 'b', problems);
    checkText('nul \u0000', 'c', problems);
    checkText('x'.repeat(MAX_TEXT_LENGTH + 1), 'd', problems);
    checkText(42, 'e', problems);
    expect(problems.map((p) => p.path)).toEqual(['c', 'd', 'e']);
  });

  it('flags JSON jsonb cannot hold, naming where', () => {
    const problems: Problem[] = [];
    checkJson({ ok: [1, 'two', { three: true }] }, 'fine', problems);
    checkJson({ a: { b: ['x', 'y\u0000'] } }, 'metadata', problems);
    checkJson({ ['k\u0000']: 1 }, 'keys', problems);
    checkJson({ n: Number.POSITIVE_INFINITY }, 'num', problems);
    expect(problems.map((p) => p.path)).toEqual(['metadata.a.b.1', 'keys', 'num.n']);
    expect(() => throwIfProblems(problems)).toThrow(InvalidInputError);
    expect(() => throwIfProblems([])).not.toThrow();
  });
});
