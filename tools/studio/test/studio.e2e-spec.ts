import fs from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import type { PrismaService } from '@agenthub/db';
import { createTestPrisma, makeOrganization, testDatabaseMode } from '@agenthub/db/testing';
import { startStudioServer, type StudioServer } from '../src/studio.server';

// Debian's chromium, installed by `npm run setup` (tools/scripts/setup-chromium.sh); Playwright's own browser
// builds are a download these machines cannot make. Without one the browser test is skipped, except under CI.
const CHROMIUM = process.env.AGENTHUB_CHROMIUM || '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const describeInBrowser = HAVE_CHROMIUM || process.env.CI ? describe : describe.skip;
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let prisma: PrismaService;
let sut: StudioServer;

beforeAll(async () => {
  prisma = createTestPrisma();
  sut = await startStudioServer({
    databaseUrl: process.env.TEST_DATABASE_URL!,
    mode: testDatabaseMode(),
    description: `test database (${testDatabaseMode()})`,
    port: 0,
  });
});

afterAll(async () => {
  await sut?.close();
  await prisma?.$disconnect();
});

const BROWSER_SUITE = HAVE_CHROMIUM
  ? `Studio in Chromium (${CHROMIUM})`
  : `Studio in Chromium [no browser at ${CHROMIUM}: bash tools/scripts/setup-chromium.sh installs Debian's]`;

describeInBrowser(BROWSER_SUITE, () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) {
      throw new Error(`no Chromium at ${CHROMIUM}: run bash tools/scripts/setup-chromium.sh (CI must run this test)`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('lists the tables, shows an organization row and writes an edited name to the database', async () => {
    const organization = await makeOrganization(prisma, { name: `Studio Org ${randomUUID().slice(0, 8)}` });
    const renamed = `${organization.name} renamed`;
    const page = await browser.newPage();
    // Every step waits for its element (Playwright's locators); the margin is for a loaded 2-core CI machine.
    page.setDefaultTimeout(60_000);
    const outside: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (request) => {
      const { protocol, host } = new URL(request.url());
      if ((protocol === 'http:' || protocol === 'https:') && `http://${host}/` !== sut.url) outside.push(request.url());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(sut.url);
    // The table list comes from the database (Studio introspects it); click the table to open its grid.
    await page.getByRole('link', { name: 'organizations', exact: true }).click();
    const row = page.getByRole('row').filter({ hasText: organization.id });
    const nameCell = row.locator('td[data-grid-column-id="name"]');
    await nameCell.getByText(organization.name, { exact: true }).waitFor();

    // Edit the cell, stage the change, confirm the write.
    await nameCell.dblclick();
    const editor = page.getByRole('dialog').getByRole('textbox');
    await editor.fill(renamed);
    await editor.press('Enter');
    await page.getByRole('button', { name: 'Save 1 row' }).click();
    const update = page.waitForResponse(
      (response) => response.url().endsWith('/api/query') && /"update /.test(response.request().postData() ?? ''),
    );
    await page.getByRole('button', { name: 'yes, write to db' }).click();
    const [error] = (await (await update).json()) as [unknown];
    expect(error).toBeNull();
    // Studio reads the row back after the write.
    await nameCell.getByText(renamed, { exact: true }).waitFor();

    const stored = await prisma.organization.findUniqueOrThrow({ where: { id: organization.id } });
    expect(stored.name).toBe(renamed);
    expect(pageErrors).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });
});

describe('Studio server', () => {
  it('answers the page with a policy that keeps it on this server', async () => {
    const res = await request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.body).toContain('<title>AgentHub Studio — test database');
  });

  it('runs a statement for a same-origin JSON post', async () => {
    const res = await request('POST', '/api/query', {
      body: { procedure: 'query', query: { sql: 'select $1::int + 1 as n', parameters: [41] } },
      headers: { origin: sut.url.slice(0, -1) },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual([null, [{ n: 42 }]]);
  });

  it('answers a failing statement with the serialized error', async () => {
    const res = await request('POST', '/api/query', {
      body: { procedure: 'query', query: { sql: 'select * from no_such_table', parameters: [] } },
    });
    const [error, rows] = JSON.parse(res.body) as [{ message: string }, unknown];
    expect(error.message).toContain('no_such_table');
    expect(rows).toBeUndefined();
  });

  it.each([
    ['another site', { origin: 'http://attacker.test' }, 403],
    ['a name that is not loopback (DNS rebinding)', { host: 'attacker.test' }, 403],
    ['a form post (not JSON)', { 'content-type': 'text/plain' }, 415],
  ])('refuses SQL from %s', async (_case, headers, status) => {
    const res = await request('POST', '/api/query', {
      body: { procedure: 'query', query: { sql: 'select 1', parameters: [] } },
      headers,
    });
    expect(res.status).toBe(status);
  });
});

function request(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, sut.url),
      {
        method,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
