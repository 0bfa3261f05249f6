import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workspaceRoot, type PrismaService } from '@agenthub/db';
import { createTestPrisma, describeOnPostgres, makeOrganization } from '@agenthub/db/testing';
import { makeAgentosFile } from '../../test/fixtures/legacy-stores';
import { tenantSnapshot } from '../../test/fixtures/snapshots';
import { AgentosSqliteSource } from './sources/agentos-sqlite.source';
import { importServiceOn } from '../../test/import-kit';

const root = workspaceRoot();

/** The real command line in a child process, as an operator runs it. */
function cli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/worker/src/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL, SWC_NODE_PROJECT: 'apps/worker/tsconfig.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

// Killing a client in the middle of a transaction relies on the server rolling it back when the connection
// drops; the embedded server is one shared backend, so this runs on PostgreSQL.
describeOnPostgres('import killed with SIGKILL mid-run (agenthub CLI in a child process)', () => {
  let prisma: PrismaService;
  let dir: string;

  beforeAll(() => {
    prisma = createTestPrisma();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-kill-'));
  });
  afterAll(async () => {
    await prisma.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a second run resumes and ends in the same state as an uninterrupted run, without duplicates', async () => {
    const file = makeAgentosFile(path.join(dir, 'big.sqlite3'), { edgeCases: true, conversations: 600, turnsPerConversation: 20 });
    const org = await makeOrganization(prisma);

    const first = cli(['import', 'agentos-sqlite', file, '--org', org.id, '--batch-size', '40', '--json']);
    // Wait until some batches have committed, then kill the process without warning.
    let killedAt = 0;
    for (let i = 0; i < 3000 && !killedAt; i++) {
      const run = await prisma.importRun.findFirst({ where: { organizationId: org.id }, select: { counts: true, status: true } });
      const done = (run?.counts as { done?: number } | undefined)?.done ?? 0;
      if (run?.status === 'completed') throw new Error('the import finished before it could be killed; make the fixture bigger');
      if (done >= 1500) {
        first.child.kill('SIGKILL');
        killedAt = done;
      } else await new Promise((r) => setTimeout(r, 10));
    }
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const stranded = await prisma.importRun.findFirstOrThrow({ where: { organizationId: org.id } });
    expect(stranded.status).toBe('running');
    const partial = await prisma.message.count({ where: { organizationId: org.id } });
    expect(partial).toBeGreaterThanOrEqual(killedAt);
    expect(partial).toBeLessThan(12_008);

    const second = cli(['import', 'agentos-sqlite', file, '--org', org.id, '--batch-size', '40', '--json']);
    const finished = await second.done;
    expect(finished.stderr).toBe('');
    expect(finished.code).toBe(0);
    const summary = JSON.parse(finished.stdout);
    expect(summary).toMatchObject({ ok: true, status: 'completed', resumed: true, runId: stranded.id, verification: { ok: true } });
    expect(summary.counts.messages).toMatchObject({ read: 12_010, written: 12_008, rejected: 2 });

    // The same file imported in one go, in-process, into another organization.
    const reference = await makeOrganization(prisma);
    const service = importServiceOn(prisma);
    const source = await AgentosSqliteSource.open(file);
    const straight = await service.run(source, { organizationId: reference.id });
    await source.close();
    expect(summary.counts).toEqual(straight.counts);
    expect(await tenantSnapshot(prisma, org.id)).toEqual(await tenantSnapshot(prisma, reference.id));
    const [dupes] = await prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM (SELECT client_id FROM messages WHERE organization_id = ${org.id}::uuid GROUP BY client_id HAVING count(*) > 1) d`;
    expect(dupes.n).toBe(0);
  });
});
