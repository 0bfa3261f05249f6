// `npx nx run db:studio [-- --port <n> --host <address>]`: Prisma Studio (the embeddable @prisma/studio-core) on
// DATABASE_URL, or on the embedded database under AGENTHUB_DATA_DIR when it is unset. Serves until Ctrl+C.
import fs from 'node:fs';
import path from 'node:path';
import { describeDatabase, resolveDatabase, sessionUrl, type DatabaseTarget } from '@agenthub/db';
import { DEFAULT_STUDIO_HOST, DEFAULT_STUDIO_PORT, isLoopback, startStudioServer } from './studio.server';

const USAGE = `usage: npx nx run db:studio [-- --port <n>] [--host <address>]

Prisma Studio for AgentHub's database: DATABASE_URL, or the embedded database in AGENTHUB_DATA_DIR (.agenthub/).
  --port <n>        port to listen on (default ${DEFAULT_STUDIO_PORT}; 0 picks a free one)
  --host <address>  address to listen on (default ${DEFAULT_STUDIO_HOST}; whoever reaches it can change every row)`;

const say = (line: string) => console.log(`agenthub studio: ${line}`);

function parseArgs(argv: string[]): { host: string; port: number } {
  const options = { host: DEFAULT_STUDIO_HOST, port: DEFAULT_STUDIO_PORT };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === '--port') {
      const port = Number(value());
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port takes a number from 0 to 65535');
      options.port = port;
    } else if (flag === '--host') {
      options.host = value() || fail('--host takes an address');
    } else {
      fail(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  return options;
}

/** The embedded database's owner writes its pid into embedded.json (embedded-database.ts); others connect to it. */
function servesEmbeddedItself(target: DatabaseTarget): boolean {
  if (target.mode !== 'embedded' || !target.dataDir) return false;
  try {
    const info = JSON.parse(fs.readFileSync(path.join(target.dataDir, 'embedded.json'), 'utf8')) as { pid?: number };
    return info.pid === process.pid;
  } catch {
    return false;
  }
}

function fail(message: string): never {
  console.error(`agenthub studio: ${message}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { host, port } = parseArgs(process.argv.slice(2));
  const target = await resolveDatabase();
  say(describeDatabase(target));
  // For the page title: the same without the embedded database's list of limitations.
  const description = describeDatabase(target).split(' — ')[0];
  let server;
  try {
    server = await startStudioServer({ databaseUrl: sessionUrl(target), mode: target.mode, description, host, port, log: say });
  } catch (error) {
    await target.close();
    throw error;
  }
  if (servesEmbeddedItself(target)) {
    say(
      'no AgentHub process was serving this data directory, so Studio runs the embedded database itself: an API ' +
        'or worker started now uses it through Studio, so stop Studio last',
    );
  }
  if (server.tables === 0) say('the database has no tables yet: apply the migrations with `npx nx run migrate`');
  if (!isLoopback(host)) {
    say(`listening on ${host}: anyone who reaches this port can read and change every row, without a password`);
  }
  say(`open ${server.url}  (Ctrl+C to stop)`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    void server
      .close()
      .then(() => target.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`agenthub studio: stopping failed: ${(error as Error).message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`agenthub studio failed: ${(error as Error).message}`);
  process.exit(1);
});
