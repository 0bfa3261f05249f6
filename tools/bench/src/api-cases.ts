/** The cases of the api suite (`--cases`), in a module of their own: the entry reads them before it loads the data layer. */
export const API_CASES = ['append', 'bare', 'page', 'orgs', 'rls', 'hold'] as const;
export type ApiCase = (typeof API_CASES)[number];
