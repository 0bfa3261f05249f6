import { FrameworkLogger } from './framework-logger';

describe('FrameworkLogger', () => {
  const calls: Array<[string, unknown[]]> = [];
  const inner = {
    log: (...a: unknown[]) => calls.push(['log', a]),
    error: (...a: unknown[]) => calls.push(['error', a]),
    warn: (...a: unknown[]) => calls.push(['warn', a]),
    debug: (...a: unknown[]) => calls.push(['debug', a]),
    verbose: (...a: unknown[]) => calls.push(['verbose', a]),
  };
  beforeEach(() => (calls.length = 0));

  it("moves Nest's start-up lines to debug and passes the rest through at their level", () => {
    const logger = new FrameworkLogger(inner);
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/api/v1/agents, GET} route', 'RouterExplorer');
    logger.log('sealed 3 entries', 'AuditSealer');
    logger.warn('slow', 'RouterExplorer');
    logger.error('boom', 'trace', 'NestApplication');
    logger.fatal('gone');
    expect(calls).toEqual([
      ['debug', ['AppModule dependencies initialized', 'InstanceLoader']],
      ['debug', ['Mapped {/api/v1/agents, GET} route', 'RouterExplorer']],
      ['log', ['sealed 3 entries', 'AuditSealer']],
      ['warn', ['slow', 'RouterExplorer']],
      ['error', ['boom', 'trace', 'NestApplication']],
      ['error', ['gone']],
    ]);
  });
});
