import { InvalidInputError } from './errors';

/**
 * Input checks every repository shares, so that input PostgreSQL would refuse (NUL characters, oversized
 * text that overflows a generated tsvector, `\u0000` inside JSON) is a domain error and never a raw SQL error.
 */
export type Problem = { path: string; message: string };

/** Largest text a searchable column takes: a tsvector is limited to 1 MB, so leave room for its overhead. */
export const MAX_TEXT_LENGTH = 512 * 1024;

export function invalid(path: string, message: string): InvalidInputError {
  return new InvalidInputError(`${path}: ${message}`, [{ path, message }]);
}

/** Collects a problem for a string that PostgreSQL cannot store or index. */
export function checkText(value: unknown, path: string, problems: Problem[], max = MAX_TEXT_LENGTH): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string') problems.push({ path, message: 'must be a string' });
  else if (value.includes('\u0000')) problems.push({ path, message: 'must not contain NUL characters' });
  else if (value.length > max) problems.push({ path, message: `must be at most ${max} characters` });
}

/** Collects a problem for a JSON value that jsonb cannot hold (NUL in a string or key, non-finite numbers). */
export function checkJson(value: unknown, path: string, problems: Problem[]): void {
  const walk = (v: unknown, at: string): boolean => {
    if (typeof v === 'string') return !v.includes('\u0000') || (problems.push({ path: at, message: 'must not contain NUL characters' }), false);
    if (typeof v === 'number') return Number.isFinite(v) || (problems.push({ path: at, message: 'must be a finite number' }), false);
    if (Array.isArray(v)) return v.every((item, i) => walk(item, `${at}.${i}`));
    if (v && typeof v === 'object') {
      return Object.entries(v).every(([k, item]) =>
        k.includes('\u0000') ? (problems.push({ path: at, message: 'keys must not contain NUL characters' }), false) : walk(item, `${at}.${k}`),
      );
    }
    return true;
  };
  walk(value, path);
}

/** Throws one InvalidInputError listing every problem found. */
export function throwIfProblems(problems: Problem[], message = 'invalid input'): void {
  if (problems.length) throw new InvalidInputError(message, problems);
}
