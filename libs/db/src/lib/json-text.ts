/**
 * JSON text of a value of type `T`, written by PostgreSQL for a caller that sends it on as it is (an HTTP body)
 * instead of parsing it into objects and serializing those again. The type parameter only records what the text
 * holds, so that a route's declared response and its JSON text cannot drift apart unnoticed.
 */
export type JsonText<T> = string & { readonly __jsonOf?: T };

/** `{"data":[…],"nextCursor":…}` of a page whose items are JSON text already. */
export function jsonPage<T>(page: { data: Array<JsonText<T>>; nextCursor: string | null }): JsonText<{ data: T[]; nextCursor: string | null }> {
  return `{"data":[${page.data.join(',')}],"nextCursor":${JSON.stringify(page.nextCursor)}}`;
}
