/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009), how hybrid search merges the vector and the
 * full-text result lists. Each list contributes 1 / (RRF_K + rank) for every item it contains, rank starting at
 * 1; an item's score is the sum over the lists. It needs no score normalisation (cosine similarity and ts_rank_cd
 * are not comparable), and k = 60 keeps one list's top hit from drowning out agreement between the lists.
 *
 * Example: a item 1st in vector and 3rd in text scores 1/61 + 1/63 ≈ 0.03227; one only 1st in text scores 1/61.
 */
export const RRF_K = 60;

export interface FusedItem<T> {
  item: T;
  /** Σ 1 / (RRF_K + rank) over the lists containing the item */
  score: number;
  /** 1-based rank in each list, null where the list does not contain the item (same order as the lists) */
  ranks: Array<number | null>;
}

/**
 * Fuses ranked lists (best first) of items identified by `key`. Result is best first; ties are broken by the
 * best single rank, then by key, so the order is deterministic. The first occurrence of an item is the one kept.
 */
export function reciprocalRankFusion<T>(
  lists: ReadonlyArray<readonly T[]>,
  key: (item: T) => string,
  k = RRF_K,
): Array<FusedItem<T>> {
  const fused = new Map<string, FusedItem<T>>();
  lists.forEach((list, listIndex) => {
    list.forEach((item, index) => {
      const id = key(item);
      let entry = fused.get(id);
      if (!entry) {
        entry = { item, score: 0, ranks: lists.map(() => null) };
        fused.set(id, entry);
      }
      // A list repeating an item counts only its best rank.
      if (entry.ranks[listIndex] !== null) return;
      entry.ranks[listIndex] = index + 1;
      entry.score += 1 / (k + index + 1);
    });
  });
  const bestRank = (e: FusedItem<T>) => Math.min(...e.ranks.map((r) => r ?? Infinity));
  return [...fused.entries()]
    .sort(([ka, a], [kb, b]) => b.score - a.score || bestRank(a) - bestRank(b) || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([, e]) => e);
}
