import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiProcess, describeExit } from './support/api-process';

/**
 * Start-up of the real process (`main.ts`): configuration errors stop it with a non-zero exit naming the
 * variable, and the embedded mode a developer gets with no configuration at all works from scratch. Runs in both
 * test modes: nothing here uses the shared test database.
 */
describe('API start-up', () => {
  const started: ApiProcess[] = [];
  const spawn = (env: Record<string, string | undefined>) => {
    const api = ApiProcess.spawn({ env });
    started.push(api);
    return api;
  };

  afterAll(async () => {
    await Promise.all(started.map((api) => api.stop()));
  });

  // Nothing listens on port 9 (discard): the configuration must be refused before any connection is tried.
  const UNREACHABLE_DATABASE = 'postgresql://agenthub@127.0.0.1:9/agenthub';

  it('refuses to start on PostgreSQL without AGENTHUB_ADMIN_TOKEN, naming it', async () => {
    const api = spawn({ DATABASE_URL: UNREACHABLE_DATABASE, AGENTHUB_ADMIN_TOKEN: undefined });
    const exit = await api.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(api.stderr.join('\n')).toMatch(/AGENTHUB_ADMIN_TOKEN/);
    expect(api.output).not.toMatch(/listening on/);
  });

  it.each([
    ['PORT', 'abc'],
    ['RATE_LIMIT_MAX', '-1'],
    ['DATABASE_URL', 'mysql://root@localhost/agenthub'],
    ['AGENTHUB_ADMIN_TOKEN', 'too-short'],
    ['LOG_LEVEL', 'loud'],
  ])('refuses a bad %s (%s) with a non-zero exit naming the variable', async (name, value) => {
    const api = spawn({ DATABASE_URL: UNREACHABLE_DATABASE, [name]: value });
    const exit = await api.exited;
    expect(describeExit(exit)).toMatch(/^code [1-9]/);
    const stderr = api.stderr.join('\n');
    expect(stderr).toMatch(new RegExp(`^\\s*${name}: `, 'm'));
    // The message names the variable, it does not echo a value that may be a secret.
    if (name === 'AGENTHUB_ADMIN_TOKEN') expect(api.output).not.toContain(value);
    expect(api.output).not.toMatch(/listening on/);
  });

  describe('embedded mode (no DATABASE_URL, no AGENTHUB_ADMIN_TOKEN)', () => {
    let dataDir: string;
    const env = () => ({
      DATABASE_URL: undefined,
      AGENTHUB_ADMIN_TOKEN: undefined,
      AGENTHUB_DATA_DIR: dataDir,
      AGENTHUB_MIGRATE_ON_START: 'true', // a fresh data directory: the start applies the migrations itself
    });
    let token: string;

    beforeAll(() => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-api-startup-'));
    });

    afterAll(() => {
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('starts, prints a generated admin token and the docs URL, and keeps the token in a 0600 file', async () => {
      const api = ApiProcess.spawn({ env: env(), startTimeoutMs: 240_000 });
      started.push(api);
      await api.waitForLine(/listening on/, 240_000);
      const tokenLine = await api.waitForLine(/admin token \(generated/);
      token = /: (\S+)$/.exec(tokenLine)![1];
      expect(token.length).toBeGreaterThanOrEqual(24);
      const listening = api.stdout.find((l) => /listening on/.test(l))!;
      const docs = /docs (http:\/\/\S+\/api\/docs)\b/.exec(listening);
      expect(docs).not.toBeNull();

      const file = path.join(dataDir, 'admin-token');
      expect(tokenLine).toContain(file);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8').trim()).toBe(token);

      const base = listening.match(/listening on (http:\/\/\S+?) /)![1].replace('//localhost:', '//127.0.0.1:');
      const orgs = await fetch(`${base}/api/v1/organizations`, { headers: { authorization: `Bearer ${token}` } });
      expect(orgs.status).toBe(200);
      const wrong = await fetch(`${base}/api/v1/organizations`, { headers: { authorization: `Bearer ${token.slice(0, -1)}x` } });
      expect(wrong.status).toBe(401);
      const docsPage = await fetch(docs![1].replace('//localhost:', '//127.0.0.1:'));
      expect(docsPage.status).toBe(200);

      expect(describeExit(await api.stop(60_000))).toBe('code 0');
    }, 300_000);

    it('reuses the kept token on the next start (not shown again)', async () => {
      expect(token).toBeDefined(); // needs the first start
      const api = ApiProcess.spawn({ env: env(), startTimeoutMs: 240_000 });
      started.push(api);
      await api.waitForLine(/listening on/, 240_000);
      expect(await api.waitForLine(/admin token: the one kept in/)).toContain(path.join(dataDir, 'admin-token'));
      expect(api.output).not.toContain(token);
      const listening = api.stdout.find((l) => /listening on/.test(l))!;
      const base = listening.match(/listening on (http:\/\/\S+?) /)![1].replace('//localhost:', '//127.0.0.1:');
      const orgs = await fetch(`${base}/api/v1/organizations`, { headers: { authorization: `Bearer ${token}` } });
      expect(orgs.status).toBe(200);
      expect(fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim()).toBe(token);
      expect(describeExit(await api.stop(60_000))).toBe('code 0');
    }, 300_000);
  });
});
