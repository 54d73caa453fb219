// The API's timestamps are UTC (api-contract.md): one without a zone designator must not be read
// as the agent host's local time. Its own file: these tests move the process to another time zone.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTimeMs } from '../src/time.js';
import { formatCef } from '../src/format/cef.js';
import { formatLeef } from '../src/format/leef.js';
import { advanceMarker } from '../src/state/marker.js';
import { startPoint } from '../src/plan.js';
import { pages } from '../src/source/pager.js';
import { Agent } from '../src/source/undici.js';
import type { ClientContext } from '../src/source/client.js';
import type { Logger } from '../src/log.js';
import type { LogRecord } from '../src/types.js';
import { parseCef, parseLeef } from './helpers/parsers.js';

const saved = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'Asia/Tokyo'; // UTC+9, no daylight saving
  expect(new Date(2026, 0, 1).getTimezoneOffset(), 'TZ change took effect').toBe(-540);
});
afterAll(() => {
  if (saved === undefined) delete process.env.TZ;
  else process.env.TZ = saved;
});

const LOCAL = '2026-11-22T10:00:00.123'; // no zone designator
const UTC = Date.UTC(2026, 10, 22, 10, 0, 0, 123);

describe('apiTimeMs', () => {
  it('reads a date and time without a zone designator as UTC', () => {
    expect(apiTimeMs(LOCAL)).toBe(UTC);
    expect(apiTimeMs('2026-11-22 10:00:00.123')).toBe(UTC);
    expect(apiTimeMs('2026-11-22T10:00')).toBe(Date.UTC(2026, 10, 22, 10, 0));
  });
  it('keeps a designated zone as given', () => {
    expect(apiTimeMs('2026-11-22T10:00:00.123Z')).toBe(UTC);
    expect(apiTimeMs('2026-11-22T19:00:00.123+09:00')).toBe(UTC);
    expect(apiTimeMs('2026-11-22T05:00:00.123-0500')).toBe(UTC);
    expect(apiTimeMs('2026-11-22')).toBe(Date.UTC(2026, 10, 22));
  });
  it('is NaN for what is not a time', () => {
    for (const bad of ['', 'yesterday', '2026-13-01T00:00:00', '2026-11-22T25:00:00Z']) expect(apiTimeMs(bad), bad).toBeNaN();
  });
});

describe('a created_timestamp without a zone designator', () => {
  const r: LogRecord = { _id: 'a1', created_timestamp: LOCAL, severity: 'error', service: 'Box' };
  const ctx = { app: 'Investigate', version: '1.0.0', maxBytes: 0 };

  it('gives CEF rt and LEEF devTime in UTC', () => {
    expect(parseCef(formatCef(r, ctx)).extension.rt).toBe(String(UTC));
    expect(parseLeef(formatLeef(r, ctx)).attrs.devTime).toBe(new Date(UTC).toISOString());
  });

  it('moves the marker to that time in UTC, and a marker without a zone starts the next run there', () => {
    expect(advanceMarker(undefined, [r])).toEqual({ timestamp: '2026-11-22T10:00:00.123Z', ids: ['a1'] });
    const prev = { timestamp: LOCAL, ids: ['a0'] };
    // the same instant as the marker: a tie group, not a marker moving back
    expect(advanceMarker(prev, [{ _id: 'a1', created_timestamp: '2026-11-22T10:00:00.123Z' }])).toEqual({ timestamp: LOCAL, ids: ['a0', 'a1'] });
    expect(startPoint(prev, {}, UTC + 86_400_000).start).toBe('2026-11-22T10:00:00.123Z');
  });

  it('is not taken by the pager for a log older than the start (a repeat)', async () => {
    const logs = [{ _id: 'a1', created_timestamp: LOCAL }, { _id: 'a2', created_timestamp: '2026-11-22T10:00:00.124Z' }];
    const server: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ meta: { limit: 100, total_count: 2, next: null }, logs }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, runId: 'test', addSecret() {}, close: async () => {} };
    const ctx: ClientContext = {
      config: { path: 'test', apiServer: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, tenant: 'acme', keyId: 'k', keySecret: 's' },
      dispatcher, retries: 0, signal: new AbortController().signal, log: quiet,
    };
    try {
      const batches = pages(ctx, { app: 'Investigate', start: '2026-11-22T10:00:00.123Z', filters: {}, pageSize: 100, maxLogs: 100 });
      const first = await batches.next();
      if (first.done) throw new Error('no page');
      const { records, duplicates } = first.value.take();
      expect(records.map((x) => x._id)).toEqual(['a1', 'a2']);
      expect(duplicates).toBe(0);
      await batches.return(undefined);
    } finally {
      await dispatcher.close();
      await new Promise((ok) => server.close(ok));
    }
  });
});
