/** A page as every list of the API returns it (API.md): the items and the cursor of the next page, or null. */
export interface PageOf<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Every item of a cursor-paged list, page after page, fetched as the loop asks for them:
 *
 * ```ts
 * for await (const agent of paginate((cursor) => hub.GET('/api/v1/agents', { params: { query: { cursor, limit: 200 } } }))) …
 * ```
 */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<{ data?: PageOf<T> }>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const { data: page } = await fetchPage(cursor);
    if (!page) return;
    yield* page.data;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
