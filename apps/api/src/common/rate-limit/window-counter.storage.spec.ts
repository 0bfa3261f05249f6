import { WindowCounterStorage } from './window-counter.storage';

describe('WindowCounterStorage', () => {
  let t = 0;
  const storage = () => {
    const s = new WindowCounterStorage();
    s.now = () => t;
    return s;
  };
  beforeEach(() => (t = 1_000_000));

  it('allows `limit` hits per window, blocks the next for blockDuration, then counts afresh', () => {
    const s = storage();
    const results = Array.from({ length: 6 }, () => s.hit('k', 60_000, 5, 60_000));
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, false, false, true]);
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results[5].timeToBlockExpire).toBe(60);
    t += 30_000;
    const during = s.hit('k', 60_000, 5, 60_000);
    expect(during).toMatchObject({ isBlocked: true, totalHits: 6, timeToBlockExpire: 30 });
    t += 30_000;
    expect(s.hit('k', 60_000, 5, 60_000)).toMatchObject({ isBlocked: false, totalHits: 1 });
    s.onApplicationShutdown();
  });

  it('forgets a hit no sooner than the window and no later than 1/30 of it after', () => {
    const s = storage();
    s.hit('k', 60_000, 100, 60_000);
    t += 59_999;
    expect(s.hit('k', 60_000, 100, 60_000).totalHits).toBe(2);
    t += 1 + 2_000; // the first hit is now 62 s old, the second 2 s
    expect(s.hit('k', 60_000, 100, 60_000).totalHits).toBe(2);
    t += 120_000;
    expect(s.hit('k', 60_000, 100, 60_000).totalHits).toBe(1);
    s.onApplicationShutdown();
  });

  it('never admits more than `limit` hits in any window-long span (hits spread over sub-window edges)', () => {
    const s = storage();
    const admitted: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      t += 37; // 37 ms apart: crosses the 1 s sub-windows at every phase
      if (!s.hit('k', 10_000, 50, 0).isBlocked) admitted.push(t);
    }
    expect(admitted.length).toBeGreaterThan(50);
    for (let i = 50; i < admitted.length; i++) expect(admitted[i] - admitted[i - 50]).toBeGreaterThanOrEqual(10_000);
    s.onApplicationShutdown();
  });

  it('keeps keys and throttlers apart and evicts idle keys', async () => {
    const s = storage();
    for (let i = 0; i < 3; i++) await s.increment('a', 60_000, 3, 60_000, 'default');
    expect((await s.increment('a', 60_000, 3, 60_000, 'default')).isBlocked).toBe(true);
    expect((await s.increment('b', 60_000, 3, 60_000, 'default')).isBlocked).toBe(false);
    expect((await s.increment('a', 60_000, 3, 60_000, 'burst')).isBlocked).toBe(false);
    expect(s.size).toBe(3);
    t += 61_000;
    s.evictIdle();
    // 'a'/default is blocked until its block ends (60 s after the 4th hit, i.e. now): gone with the others.
    expect(s.size).toBe(0);
    s.onApplicationShutdown();
  });
});
