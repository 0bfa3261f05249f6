import { inject } from 'vitest';
import { createAgentHubClient } from '@agenthub/client';

/** A fresh organization on the test API: its owner key (each pair of cases gets its own tenant). */
export async function newOrganizationKey(name = 'agentos'): Promise<string> {
  const { baseUrl, adminToken } = inject('agenthub');
  const admin = createAgentHubClient({ baseUrl, apiKey: adminToken });
  const suffix = Math.random().toString(36).slice(2, 10);
  const { data } = await admin.POST('/api/v1/organizations', { body: { name: `${name}-${suffix}`, ownerEmail: `owner@${name}-${suffix}.test` } });
  return data!.apiKey.key;
}

/** The test API's base URL. */
export function apiBaseUrl(): string {
  return inject('agenthub').baseUrl;
}

/** The database the test API serves on PostgreSQL (null on the embedded database, which only the API process opens). */
export function apiDatabaseUrl(): string | null {
  return inject('agenthub').databaseUrl;
}
