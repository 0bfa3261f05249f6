import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { API_ENV_SCHEMA } from '../../src/config/api-config';
import { httpRequest, TEST_ADMIN_TOKEN, type ApiResponse, type RequestOptions } from './api-harness';

export { TEST_ADMIN_TOKEN };
export { SseClient, type SseEvent } from './sse-client';

/** A response body: whatever JSON the test expects (the tests assert on its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The workspace root: the child runs `apps/api/src/main.ts` from there, as `nx run api:serve` does. */
export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface ApiProcessOptions {
  /**
   * Variables for the child on top of the defaults below; `undefined` removes one. Every variable the API's
   * config reads is dropped from the inherited environment first, so only what a test says reaches the child.
   */
  env?: Record<string, string | undefined>;
  /** How long to wait for the "listening on" line (start-up compiles TypeScript and may migrate). */
  startTimeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const LISTENING = /agenthub api: listening on (http:\/\/\S+?)(?= |$)/;

/**
 * The real API as a child process (`node -r @swc-node/register apps/api/src/main.ts`): what the process-level
 * tests need and the in-process harness cannot show — several replicas on one database, kill -9, SIGTERM,
 * what actually reaches stdout/stderr, start-up failures. Every line of both streams is kept.
 */
export class ApiProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  private exit: Exit | null = null;
  private baseUrlValue: string | null = null;
  private readonly lineWaiters = new Set<() => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly env: Record<string, string>,
  ) {
    this.exited = new Promise<Exit>((resolve) => {
      // 'close', not 'exit': it comes after the child's stdout/stderr have ended, so every line is in.
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        this.notify();
      });
    });
    for (const [stream, lines] of [
      [child.stdout!, this.stdout],
      [child.stderr!, this.stderr],
    ] as const) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        lines.push(line);
        this.notify();
      });
    }
  }

  /** Spawns the API without waiting for it (start-up failure tests). */
  static spawn(options: ApiProcessOptions = {}): ApiProcess {
    const inherited = { ...process.env };
    for (const key of Object.keys(API_ENV_SCHEMA.shape)) delete inherited[key];
    const env: Record<string, string> = {};
    const merged: Record<string, string | undefined> = {
      ...inherited,
      SWC_NODE_PROJECT: 'apps/api/tsconfig.json',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0', // the OS picks a free port; the "listening on" line says which
      AGENTHUB_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      AGENTHUB_MIGRATE_ON_START: 'false', // jest's global setup has migrated the test database
      RATE_LIMIT_MAX: '1000000',
      LOG_LEVEL: 'warn',
      ...options.env,
    };
    // On the test database through a pooler, the API's sessions go to it directly (unless a test says otherwise).
    const direct = process.env.TEST_DATABASE_DIRECT_URL;
    if (direct && merged.DATABASE_URL === process.env.TEST_DATABASE_URL && !('DATABASE_DIRECT_URL' in (options.env ?? {}))) {
      merged.DATABASE_DIRECT_URL = direct;
    }
    for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], {
      cwd: WORKSPACE_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ApiProcess(child, env);
  }

  /** Spawns the API and waits until it listens; a start-up failure rejects with its output. */
  static async start(options: ApiProcessOptions = {}): Promise<ApiProcess> {
    const api = ApiProcess.spawn(options);
    try {
      await api.waitForListening(options.startTimeoutMs ?? 90_000);
    } catch (error) {
      await api.kill('SIGKILL');
      throw error;
    }
    return api;
  }

  /** The API on PostgreSQL at TEST_DATABASE_URL (already migrated by jest's global setup). */
  static startOnTestDatabase(env: Record<string, string | undefined> = {}): Promise<ApiProcess> {
    const url = process.env.TEST_DATABASE_URL;
    if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its globalSetup sets it)');
    return ApiProcess.start({ env: { DATABASE_URL: url, ...env } });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get baseUrl(): string {
    if (!this.baseUrlValue) throw new Error('the API is not listening (yet)');
    return this.baseUrlValue;
  }

  get port(): number {
    return Number(new URL(this.baseUrl).port);
  }

  get hasExited(): boolean {
    return this.exit !== null;
  }

  /** Everything the process wrote, both streams, for failure messages and secret checks. */
  get output(): string {
    return [...this.stdout, ...this.stderr].join('\n');
  }

  private notify(): void {
    for (const waiter of [...this.lineWaiters]) waiter();
  }

  /**
   * Resolves with the first line (stdout or stderr) matching, as soon as it is written; rejects when the process
   * exits without writing it or after `timeoutMs`.
   */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    return new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = this.stdout.find(test) ?? this.stderr.find(test);
        if (found !== undefined) return finish(() => resolve(found));
        if (this.exit) {
          return finish(() => reject(new Error(`the API exited (${describeExit(this.exit!)}) without printing ${match}:\n${this.output}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms:\n${this.output}`))),
        timeoutMs,
      );
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.lineWaiters.delete(check);
        fn();
      };
      this.lineWaiters.add(check);
      check();
    });
  }

  private async waitForListening(timeoutMs: number): Promise<void> {
    const line = await this.waitForLine(LISTENING, timeoutMs);
    this.baseUrlValue = LISTENING.exec(line)![1].replace('//localhost:', '//127.0.0.1:');
  }

  /** Sends a signal (no-op once exited) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`: for afterAll. */
  async stop(graceMs = 20_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async request<T = Json>(method: string, urlPath: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return httpRequest<T>(this.baseUrl, method, urlPath, options);
  }

  get = <T = Json>(urlPath: string, key?: string | null, options: RequestOptions = {}) => this.request<T>('GET', urlPath, { ...options, key });
  post = <T = Json>(urlPath: string, key: string | null, body?: unknown, options: RequestOptions = {}) =>
    this.request<T>('POST', urlPath, { ...options, key, body });
  patch = <T = Json>(urlPath: string, key: string | null, body?: unknown, options: RequestOptions = {}) =>
    this.request<T>('PATCH', urlPath, { ...options, key, body });

  /** A new organization through the admin route: its id and the owner key. */
  async createOrganization(name = `org-${Math.random().toString(36).slice(2, 8)}`): Promise<{ id: string; key: string }> {
    const res = await this.post('/api/v1/organizations', TEST_ADMIN_TOKEN, { name, ownerEmail: `owner@${name}.test` });
    if (res.status !== 201) throw new Error(`create organization: ${res.status} ${res.text}`);
    return { id: res.body.organization.id, key: res.body.apiKey.key };
  }
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
