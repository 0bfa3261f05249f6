import { InvalidInputError } from './errors';
import { float4Vector } from '../testing/factories/memories';
import { float32Base64, seededRandom } from '../testing/factories/vectors';
import { embeddingLength, encodeEmbedding, mapInSlices, toEmbedding, vectorText } from './vector';

const problemOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as InvalidInputError).details[0];
  }
  throw new Error('expected an InvalidInputError');
};

describe(toEmbedding.name, () => {
  const vector = float4Vector(seededRandom(1), 8);

  it('reads numbers, base64 of little-endian float32 and Float32Array alike', () => {
    const expected = Float32Array.from(vector);
    expect(toEmbedding(vector, 'embedding', 8)).toEqual(expected);
    expect(toEmbedding(float32Base64(vector), 'embedding', 8)).toEqual(expected);
    expect(toEmbedding(Float32Array.from(vector), 'embedding', 8)).toEqual(expected);
    expect(toEmbedding(encodeEmbedding(vector), 'embedding', 8)).toEqual(expected);
  });

  it('names the field for every kind of bad embedding', () => {
    const nan = float32Base64([...vector.slice(0, 7), Number.NaN]);
    const infinity = float32Base64([Number.POSITIVE_INFINITY, ...vector.slice(1)]);
    const cases: Array<[unknown, RegExp]> = [
      [float32Base64(vector.slice(1)), /must have 8 dimensions, got 7/],
      [Buffer.alloc(30, 1).toString('base64'), /30 bytes, not a whole number of float32 values/],
      [nan, /element 7 is not a finite number/],
      [infinity, /element 0 is not a finite number/],
      ['not base64!', /base64/],
      [float32Base64(vector).slice(0, -1), /base64/], // unpadded / truncated
      [float32Base64(vector).replace(/\+|\//g, '-'), /base64/], // the URL-safe alphabet is not the embedding APIs'
      [float32Base64(new Array(8).fill(0)), /all zeros/],
      [[...vector.slice(0, 7), 1e39], /element 7 is not a finite number/],
      [[...vector.slice(0, 7), '1'], /element 7/],
      [42, /array of numbers or a base64 string/],
    ];
    for (const [value, message] of cases) {
      const problem = problemOf(() => toEmbedding(value, 'memories.3.embedding', 8));
      expect(problem.path).toBe('memories.3.embedding');
      expect(problem.message).toMatch(message);
    }
  });

  it('tells the dimension of a base64 embedding without decoding it', () => {
    expect(embeddingLength(float32Base64(vector))).toBe(8);
    expect(embeddingLength(float32Base64(vector.slice(0, 5)))).toBe(5);
    expect(embeddingLength(vector)).toBe(8);
    expect(embeddingLength('***')).toBeNull();
    expect(embeddingLength(Buffer.alloc(6).toString('base64'))).toBeNull();
  });
});

describe(vectorText.name, () => {
  it('writes every float32 so that strtof reads back the same value', () => {
    const bits = new Uint32Array(50_000);
    const random = seededRandom(7);
    for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(random() * 2 ** 32);
    const values = new Float32Array(bits.buffer).filter(Number.isFinite);
    const edges = Float32Array.from([0, -0, 1, -1, 0.1, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45, 1.1754943508222875e-38, 16777216, 1e-10, 9.999999e-5, 0.5]);
    for (const vector of [values, edges, Float32Array.from(float4Vector(seededRandom(2)))]) {
      const text = vectorText(vector);
      expect(text).toMatch(/^\[[-0-9e,]*\]$/);
      // JSON.parse reads the decimal as the nearest double; the float32 nearest to that must be the one written
      // (-0 is written as 0, which is the same to pgvector).
      const back = Float32Array.from(JSON.parse(text) as number[]);
      const wrong = vector.findIndex((x, i) => back[i] !== x);
      expect({ wrong, length: back.length }).toEqual({ wrong: -1, length: vector.length });
    }
    expect(vectorText(Float32Array.from([0.5, -2, 0.1]))).toBe('[5e-1,-2,100000001e-9]');
  });
});

describe(mapInSlices.name, () => {
  it('maps in order and lets timers run between slices', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const spin = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const result = await mapInSlices(Array.from({ length: 20 }, (_, i) => i), (x, i) => (spin(2), x * 10 + i), 4);
    clearInterval(timer);
    expect(result).toEqual(Array.from({ length: 20 }, (_, i) => i * 11));
    expect(ticks).toBeGreaterThan(0);
  });
});
