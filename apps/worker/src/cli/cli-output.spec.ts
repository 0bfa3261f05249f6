import { CliOutput, table } from './cli-output';

/** A stream that keeps what is written (and says whether it is a terminal). */
function sink(isTTY = false) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (chunk: string) => (chunks.push(chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

describe(CliOutput.name, () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('--json: one JSON document on one line of stdout, nothing on stderr, even from a terminal', () => {
    const err = sink(true);
    const out = sink();
    const sut = new CliOutput({ json: true }, err.stream, out.stream);
    sut.counter('import').update(5, 10, 'messages');
    sut.done({ ok: true, n: 2 }, ['two done'], 3);
    expect(out.text()).toBe('{"ok":true,"n":2}\n');
    expect(err.text()).toBe('');
    expect(process.exitCode).toBe(3);
  });

  it('without --json: the summary lines on stdout; progress only on a terminal', () => {
    const err = sink(false);
    const out = sink();
    const sut = new CliOutput({}, err.stream, out.stream);
    expect(sut.progressEnabled).toBe(false);
    sut.counter('export').update(1, 2);
    sut.done({ ok: true }, ['line 1', 'line 2']);
    expect(out.text()).toBe('line 1\nline 2\n');
    expect(err.text()).toBe('');
    expect(process.exitCode).toBe(0);
    expect(new CliOutput({}, sink(true).stream, out.stream).progressEnabled).toBe(true);
  });

  it('a failure has one shape from every command: { ok: false, status: "failed", error } or `error:` on stderr', () => {
    const json = sink();
    new CliOutput({ json: true }, sink().stream, json.stream).fail(new Error('no such file: x'), 2, { id: 'b-1' });
    expect(JSON.parse(json.text())).toEqual({ ok: false, status: 'failed', error: 'no such file: x', id: 'b-1' });
    expect(process.exitCode).toBe(2);
    const err = sink();
    const out = sink();
    new CliOutput({}, err.stream, out.stream).fail('refused');
    expect(err.text()).toBe('error: refused\n');
    expect(out.text()).toBe('');
    expect(process.exitCode).toBe(1);
  });

  it('lays out tables: first column left, the others right', () => {
    expect(table([['table', 'rows'], ['messages', '12'], ['users', '3']])).toBe('table     rows\nmessages    12\nusers        3');
  });
});
