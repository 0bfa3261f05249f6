import { Injectable } from '@nestjs/common';
import { AnalyticsRepository, InvalidInputError } from '@agenthub/db';
import { ProblemException } from '../common/problem/problem.exception';
import { RequestContext } from '../common/tenancy/request-context';
import { toUsageView, type IngestEventsBody, type UsageView } from './analytics.dto';

const DEFAULT_RANGE_MS = 7 * 86_400_000;

@Injectable()
export class AnalyticsService {
  constructor(
    private readonly analytics: AnalyticsRepository,
    private readonly context: RequestContext,
  ) {}

  /**
   * All or nothing. An agent, conversation or user id of another organization is a 404 naming each offending
   * event, like every other reference to something the caller cannot see.
   */
  async ingest(body: IngestEventsBody): Promise<{ accepted: number }> {
    try {
      return await this.analytics.ingest(this.context.organizationId, body.events, this.context.db);
    } catch (error) {
      if (error instanceof InvalidInputError && error.details.length > 0 && error.details.every((d) => d.message.startsWith('unknown '))) {
        throw new ProblemException(404, 'events reference agents, conversations or users that were not found', { errors: [...error.details] });
      }
      throw error;
    }
  }

  async usage(query: { from?: string; to?: string; interval?: 'day' | 'hour'; agentId?: string }): Promise<{ data: UsageView[] }> {
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_RANGE_MS);
    const rows = await this.analytics.usage(
      this.context.organizationId,
      { from, to, interval: query.interval ?? 'day', agentId: query.agentId },
      this.context.db,
    );
    return { data: rows.map(toUsageView) };
  }
}
