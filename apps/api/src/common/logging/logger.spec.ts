import { Writable } from 'node:stream';
import pino from 'pino';
import type { ApiConfig } from '../../config/api-config';
import { loggerParams } from './logger';

describe('request log lines', () => {
  const params = loggerParams({ LOG_LEVEL: 'info' } as ApiConfig, 'json');
  const options = params.pinoHttp as pino.LoggerOptions;

  function line(req: unknown): Record<string, unknown> {
    const out: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (out.push(chunk.toString('utf8')), done()) });
    pino({ serializers: options.serializers }, sink).info({ req }, 'request completed');
    return JSON.parse(out.join(''));
  }

  it('write the Authorization header as [redacted], never its value, and no other header but the user agent', () => {
    const secret = 'ahk_live_0123456789abcdef';
    const text = JSON.stringify(
      line({ id: 'r1', method: 'GET', url: '/api/v1/agents', headers: { authorization: `Bearer ${secret}`, cookie: `s=${secret}`, 'x-api-key': secret, 'user-agent': 'curl/8' } }),
    );
    expect(text).not.toContain(secret);
    expect(JSON.parse(text).req).toEqual({ id: 'r1', method: 'GET', url: '/api/v1/agents', headers: { authorization: '[redacted]', 'user-agent': 'curl/8' } });
  });

  it('leave out an Authorization header the request did not send', () => {
    expect(line({ id: 'r2', method: 'GET', url: '/health/live', headers: {} }).req).toEqual({ id: 'r2', method: 'GET', url: '/health/live', headers: {} });
  });
});
