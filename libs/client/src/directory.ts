import type { AgentHubClient } from './client';
import { isStatus } from './errors';

/**
 * Agents by name and users by externalId, found or created, as framework integrations map a framework's app or
 * agent name and its user ids onto AgentHub (the ADK session service, the AgentOS storage adapter and archive). Ids
 * are cached for the life of the directory; a failed lookup is not.
 */
export class AgentHubDirectory {
  private readonly agents = new Map<string, Promise<string | undefined>>();
  private readonly users = new Map<string, Promise<string | undefined>>();

  /**
   * @param client the organization's client
   * @param keyPrefix names the integration in the Idempotency-Key of an agent it creates (`<prefix>:<name>`), which
   *   makes two processes starting with the same agent name at once create one agent
   */
  constructor(
    private readonly client: AgentHubClient,
    private readonly keyPrefix: string,
  ) {}

  /** The oldest active agent with this name (GET /agents?name=, as the importers pick it), if any. */
  async findAgentId(name: string): Promise<string | undefined> {
    const { data } = await this.client.GET('/api/v1/agents', { params: { query: { name, limit: 1 } } });
    return data!.data[0]?.id;
  }

  /** The user with this externalId, if any. */
  async findUserId(externalId: string): Promise<string | undefined> {
    const { data } = await this.client.GET('/api/v1/users', { params: { query: { externalId, limit: 1 } } });
    return data!.data[0]?.id;
  }

  /** The agent with this name, created (with `metadata`) when asked to and missing. */
  agentId(name: string, create: { metadata: Record<string, unknown> }): Promise<string>;
  agentId(name: string, create?: false): Promise<string | undefined>;
  agentId(name: string, create?: { metadata: Record<string, unknown> } | false): Promise<string | undefined> {
    return this.cached(this.agents, name, async () => {
      const found = await this.findAgentId(name);
      if (found || !create) return found;
      // The key is kept after the agent is deactivated or renamed, and then answers with that agent: create a new
      // one under a fresh key.
      const body = { name, metadata: create.metadata };
      let created: { id: string } | undefined;
      try {
        ({ data: created } = await this.client.POST('/api/v1/agents', { params: { header: { 'Idempotency-Key': `${this.keyPrefix}:${name}` } }, body }));
      } catch (e) {
        // The key was used with another body (another caller's metadata for the same name): look again, else create.
        if (!isStatus(e, 409)) throw e;
        const again = await this.findAgentId(name);
        if (again) return again;
        const { data: fresh } = await this.client.POST('/api/v1/agents', { body });
        return fresh!.id;
      }
      // (a replayed answer shows the agent as it was created: read how it is now)
      const { data: agent } = await this.client.GET('/api/v1/agents/{id}', { params: { path: { id: created!.id } } });
      if (agent!.isActive && agent!.name === name.trim()) return agent!.id;
      const { data: fresh } = await this.client.POST('/api/v1/agents', { body });
      return fresh!.id;
    });
  }

  /** The user with this externalId, created when asked to and missing. */
  userId(externalId: string, create: true): Promise<string>;
  userId(externalId: string, create?: false): Promise<string | undefined>;
  userId(externalId: string, create = false): Promise<string | undefined> {
    return this.cached(this.users, externalId, async () => {
      const found = await this.findUserId(externalId);
      if (found || !create) return found;
      try {
        const { data: user } = await this.client.POST('/api/v1/users', { body: { externalId } });
        return user!.id;
      } catch (e) {
        // Another process created the user first: externalId is unique within the organization.
        if (isStatus(e, 409)) return this.findUserId(externalId);
        throw e;
      }
    });
  }

  /** Forgets a cached agent (e.g. after a 409 says it was deactivated), so the next call looks again. */
  forgetAgent(name: string): void {
    this.agents.delete(name);
  }

  private async cached(cache: Map<string, Promise<string | undefined>>, key: string, lookup: () => Promise<string | undefined>) {
    const hit = cache.get(key);
    if (hit) {
      const id = await hit;
      if (id) return id;
    }
    const pending = lookup();
    cache.set(key, pending);
    const id = await pending.catch((e: unknown) => {
      cache.delete(key);
      throw e;
    });
    if (!id) cache.delete(key);
    return id;
  }
}
