/** Injection token for the resolved admin token (config/admin-token.ts). */
export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');
