import { reciprocalRankFusion, RRF_K } from './fusion';

describe(reciprocalRankFusion.name, () => {
  const key = (s: string) => s;

  it('sums 1/(60+rank) over the lists and orders best first', () => {
    const vector = ['a', 'b', 'c'];
    const text = ['c', 'd', 'a'];

    const sut = reciprocalRankFusion([vector, text], key);

    // a: 1/61 + 1/63, c: 1/63 + 1/61 (tie, broken by best single rank: both 1 → key), b: 1/62, d: 1/62
    expect(sut.map((e) => e.item)).toEqual(['a', 'c', 'b', 'd']);
    expect(sut[0].score).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(sut[0].ranks).toEqual([1, 3]);
    expect(sut[2]).toEqual({ item: 'b', score: 1 / 62, ranks: [2, null] });
    expect(sut[3].ranks).toEqual([null, 2]);
    expect(RRF_K).toBe(60);
  });

  it('ranks agreement between lists above a single first place', () => {
    const sut = reciprocalRankFusion([['x', 'y'], ['z', 'y']], key);

    expect(sut.map((e) => e.item)).toEqual(['y', 'x', 'z']);
    expect(sut[0].score).toBeCloseTo(2 / 62, 12);
  });

  it('counts a repeated item once per list, at its best rank', () => {
    const sut = reciprocalRankFusion([['a', 'a', 'b']], key);

    expect(sut).toEqual([
      { item: 'a', score: 1 / 61, ranks: [1] },
      { item: 'b', score: 1 / 63, ranks: [3] },
    ]);
  });

  it('returns nothing for empty lists', () => {
    expect(reciprocalRankFusion([[], []], key)).toEqual([]);
  });
});
