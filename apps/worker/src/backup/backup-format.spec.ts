import { RowDigest } from './backup-format';

describe(RowDigest.name, () => {
  const digestOf = (...chunks: string[]) => {
    const sut = new RowDigest();
    for (const c of chunks) sut.update(Buffer.from(c));
    return { digest: sut.digest(), rows: sut.rows };
  };

  it('does not depend on row order or on where the chunks split the rows', () => {
    const a = digestOf('1\tone\n2\ttwo\n3\tthree\n');
    expect(a.rows).toBe(3);
    expect(digestOf('3\tthree\n1\tone\n', '2\ttwo\n')).toEqual(a);
    expect(digestOf('2\tt', 'wo\n3\tth', 'ree\n1', '\tone\n')).toEqual(a);
  });

  it('changes with any changed, missing or repeated row', () => {
    const a = digestOf('1\tone\n2\ttwo\n').digest;
    expect(digestOf('1\tone\n2\ttwO\n').digest).not.toBe(a);
    expect(digestOf('1\tone\n').digest).not.toBe(a);
    expect(digestOf('1\tone\n2\ttwo\n2\ttwo\n').digest).not.toBe(a);
    expect(digestOf('1\tone\n2\ttwo').digest).not.toBe(a);
  });
});
