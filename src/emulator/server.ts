import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { SEVERITIES, type AppName, type LogRecord } from '../types.js';
import { generateLogs, type GenerateOptions } from './data.js';
import { cannedResponse, checkFaults, Faults, type FaultSpec } from './faults.js';

export interface EmulatorOptions {
  tenant?: string;            // default 'acme'
  keyId?: string;             // default 'test-key-id'
  keySecret?: string;         // default 'test-key-secret'
  port?: number;              // default 0 (random); host is always 127.0.0.1
  tls?: { key: string | Buffer; cert: string | Buffer };  // serve HTTPS when given
  latencyMs?: number;         // delay before answering each logs request
  data?: GenerateOptions | { Investigate: LogRecord[]; Detect: LogRecord[] };
}
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  status: number;             // 0 while unanswered, or when never answered (hang)
  returned: number;           // logs in the body
  /** The `app` of every other logs request still open when this one arrived (shows concurrency). */
  openAtArrival: string[];
}
export interface Emulator {
  url: string;
  port: number;
  logs: Record<AppName, LogRecord[]>;
  requests: RequestRecord[];
  setFaults(f: FaultSpec[]): void;
  setLatency(ms: number): void;
  addLogs(app: AppName, records: LogRecord[]): void;
  configFile(dir: string, extra?: object): string;
  close(): Promise<void>;
}

const RETENTION_MS = 180 * 86_400_000;
const SNAPSHOT_TTL_MS = 10 * 60_000;
const MAX_SNAPSHOTS = 1000;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const FILTERS = ['severity', 'service', 'object_type', 'activity_type'] as const;
const SUBTYPE: Record<AppName, string> = { Investigate: 'all', Detect: 'incidents' };

/**
 * A log is shown once it is inserted (its inserted_timestamp, if it has one, has passed): the
 * real service indexes a log seconds after it was created, so a query can see a newer log before
 * an older one (README: the emulator's choices; the agent's --ingest_delay).
 */
function shown(r: LogRecord, now: number): boolean {
  return typeof r.inserted_timestamp !== 'string' || !(Date.parse(r.inserted_timestamp) > now);
}

/** One first request's result, frozen: later pages of its cursor come from here, like a scroll. */
interface Snapshot { app: AppName; records: LogRecord[]; created: number; query: string }

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const time = (r: LogRecord): number => Date.parse(r.created_timestamp);

/** The log API of /work/shared/api-contract.md, with generated data and switchable faults. */
export async function startEmulator(o: EmulatorOptions = {}): Promise<Emulator> {
  const tenant = o.tenant ?? 'acme';
  const keyId = o.keyId ?? 'test-key-id';
  const keySecret = o.keySecret ?? 'test-key-secret';
  const expectedAuth = `Basic ${Buffer.from(`${keyId}:${keySecret}`).toString('base64')}`;
  const logs = initialLogs(o.data);
  const requests: RequestRecord[] = [];
  const open = new Set<RequestRecord>();
  const faults = new Faults();
  let latency = o.latencyMs ?? 0;
  let logRequests = 0;
  const snapshots = new Map<string, Snapshot>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const base = `/${tenant}/api/admin/v1/logs/get/`;

  const send = (res: ServerResponse, rec: RequestRecord, status: number, body: string, type = 'application/json', headers: Record<string, string> = {}) => {
    rec.status = status;
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const delay = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
    timers.add(t);
  });

  function takeSnapshot(app: AppName, q: Record<string, string>, rawQuery: string): [string, Snapshot] {
    let bound = -Infinity;
    if (q.created_timestamp !== undefined) {
      bound = Date.parse(q.created_timestamp);
      if (!ISO_MS.test(q.created_timestamp) || Number.isNaN(bound)) {
        throw new HttpError(400, 'created_timestamp must be ISO 8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.000Z');
      }
      if (bound < Date.now() - RETENTION_MS) throw new HttpError(400, 'created_timestamp is older than the retention period');
    }
    const filters: Array<[string, Set<string>]> = [];
    for (const f of FILTERS) {
      const values = (q[f] ?? '').split(',').filter((v) => v !== '');
      if (values.length > 0) filters.push([f, new Set(values)]);
      if (f === 'severity') for (const s of values) if (!SEVERITIES[app].includes(s)) throw new HttpError(400, `severity ${s} is not valid for ${app}`);
    }
    const all = logs[app];
    const records: LogRecord[] = [];
    const now = Date.now();
    for (let i = lowerBound(all, bound); i < all.length; i++) {
      const r = all[i]!;
      // `!(x < bound)`: a record whose time does not parse is still served (tests feed such bad records)
      if (!(time(r) < bound) && shown(r, now) && filters.every(([f, set]) => typeof r[f] === 'string' && set.has(r[f]))) records.push(r);
    }
    shuffleTies(records);
    for (const [id, s] of snapshots) {
      if (snapshots.size < MAX_SNAPSHOTS && now - s.created < SNAPSHOT_TTL_MS) break;
      snapshots.delete(id);
    }
    const id = randomBytes(12).toString('hex');
    const query = rawQuery.split('&').filter((p) => !/^(cursor|offset)(=|$)/.test(p)).join('&');
    const snap: Snapshot = { app, records, created: now, query };
    snapshots.set(id, snap);
    return [id, snap];
  }

  async function logsRequest(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, rawQuery: string): Promise<void> {
    logRequests++;
    const q = rec.query;
    // picked on arrival, so `count` is consumed in request order even with latency
    const fault = req.headers.authorization === expectedAuth ? faults.pick(q.app, q.cursor !== undefined) : undefined;
    if (latency > 0) await delay(latency);
    if (req.headers.authorization !== expectedAuth) throw new HttpError(401, 'invalid credentials');
    if (req.headers['x-elastica-dbname-resolved'] !== 'True') throw new HttpError(400, 'missing X-Elastica-Dbname-Resolved');
    if (fault) {
      if (fault.type === 'hang') return; // never answered; close() destroys the socket
      const canned = cannedResponse(fault);
      if (canned) return send(res, rec, canned.status, canned.body, canned.type, canned.headers);
    }
    const app = q.app as AppName;
    if (app !== 'Investigate' && app !== 'Detect') throw new HttpError(400, 'app must be Investigate or Detect');
    if (q.subtype !== undefined && q.subtype !== SUBTYPE[app]) throw new HttpError(400, `subtype must be ${SUBTYPE[app]} for ${app}`);
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!/^\d+$/.test(q.limit ?? '1000') || limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be 1..1000');

    let cursor = q.cursor;
    let offset = 0;
    let snap: Snapshot | undefined;
    if (cursor !== undefined) {
      snap = snapshots.get(cursor);
      if (!snap || Date.now() - snap.created > SNAPSHOT_TTL_MS || snap.app !== app) throw new HttpError(400, 'unknown or expired cursor');
      offset = Number(q.offset ?? '0');
      if (!/^\d+$/.test(q.offset ?? '0') || offset > snap.records.length) throw new HttpError(400, 'bad offset');
    } else {
      [cursor, snap] = takeSnapshot(app, q, rawQuery);
    }
    let page = snap.records.slice(offset, offset + limit);
    if (fault?.type === 'repeat' && offset > 0) {
      const prev = Math.max(0, offset - limit);
      page = [...snap.records.slice(prev, Math.min(offset, prev + (fault.n ?? 5))), ...page];
    }
    const end = offset + limit;
    const next = end < snap.records.length ? `${base}?${snap.query}&cursor=${cursor}&offset=${end}` : null;
    const total = fault?.type === 'totalcount' ? Math.floor(Math.random() * 1_000_000) : snap.records.length;
    let body = JSON.stringify({ meta: { limit, total_count: total, next }, logs: page });
    if (fault?.type === 'badlog') body = body.replace('"logs":[{', '"logs":[{"broken":undefined,');
    rec.returned = page.length;
    if (fault?.type === 'truncated') {
      rec.returned = 0;
      return send(res, rec, 200, body.slice(0, Math.floor(body.length / 2)));
    }
    if (fault?.type === 'reset') {
      rec.returned = 0;
      rec.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.write(body.slice(0, Math.min(200, Math.floor(body.length / 2))));
      // let the head and the first bytes leave before the connection dies
      setTimeout(() => req.socket.destroy(), 5);
      return;
    }
    send(res, rec, 200, body);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, path: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const parse = (): unknown => {
      try { return JSON.parse(body || 'null'); } catch { throw new HttpError(400, 'body is not JSON'); }
    };
    if (path === '/_emulator/faults' && req.method === 'POST') {
      try { faults.set(checkFaults(parse())); } catch (e) { throw e instanceof HttpError ? e : new HttpError(400, (e as Error).message); }
    } else if (path === '/_emulator/latency' && req.method === 'POST') {
      const ms = Number((parse() as { ms?: unknown } | null)?.ms);
      if (!Number.isFinite(ms) || ms < 0) throw new HttpError(400, 'latency needs {"ms": N}');
      latency = ms;
    } else if (path === '/_emulator/stats' && req.method === 'GET') {
      const stats = { requests: logRequests, counts: { Investigate: logs.Investigate.length, Detect: logs.Detect.length } };
      return send(res, rec, 200, JSON.stringify(stats));
    } else throw new HttpError(404, 'not found');
    send(res, rec, 200, '{"ok":true}');
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    const qAt = raw.indexOf('?');
    const path = qAt < 0 ? raw : raw.slice(0, qAt);
    const rawQuery = qAt < 0 ? '' : raw.slice(qAt + 1);
    const headers: RequestRecord['headers'] = { ...req.headers };
    // secrets never reach a log or a test report, not even the emulator's
    for (const h of ['authorization', 'proxy-authorization']) if (headers[h] !== undefined) headers[h] = '[redacted]';
    const rec: RequestRecord = {
      method: req.method ?? 'GET', path, query: Object.fromEntries(new URLSearchParams(rawQuery)), headers, status: 0, returned: 0,
      openAtArrival: [...open].map((r) => r.query.app ?? '?'),
    };
    requests.push(rec);
    if (path.includes('/logs/get/')) {
      open.add(rec);
      res.on('close', () => open.delete(rec));
    }
    const work = path.startsWith('/_emulator/') ? admin(req, res, rec, path)
      : req.method === 'GET' && safeDecode(path) === base ? logsRequest(req, res, rec, rawQuery)
        : Promise.reject(new HttpError(404, 'not found'));
    work.catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const status = e instanceof HttpError ? e.status : 500;
      send(res, rec, status, JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
    });
  };
  const server: Server = o.tls ? createHttps({ key: o.tls.key, cert: o.tls.cert }, onRequest) : createHttp(onRequest);
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as { port: number }).port;
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/`;
  let closing: Promise<void> | undefined;
  return {
    url, port, logs, requests,
    setFaults: (f) => faults.set(checkFaults(f)),
    setLatency: (ms) => { latency = ms; },
    addLogs(app, records) {
      const merged = mergeByTime(logs[app], records);
      // in place: callers may hold on to emu.logs[app]
      for (let i = 0; i < merged.length; i++) logs[app][i] = merged[i]!;
    },
    configFile(dir, extra = {}) {
      const p = join(dir, 'config.json');
      const cfg = { user_id: '5f1c0000000000000000emu', api_server: url, tenant, key_id: keyId, key_secret: keySecret, ...extra };
      writeFileSync(p, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
      return p;
    },
    close: () => closing ??= new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    }),
  };
}

function initialLogs(data: EmulatorOptions['data']): Record<AppName, LogRecord[]> {
  if (data && Array.isArray((data as { Investigate?: unknown }).Investigate)) {
    const given = data as Record<AppName, LogRecord[]>;
    return { Investigate: mergeByTime([], given.Investigate), Detect: mergeByTime([], given.Detect ?? []) };
  }
  return generateLogs(data as GenerateOptions | undefined);
}

/** Index of the first record at or after `t` in an ascending array. */
function lowerBound(a: LogRecord[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time(a[mid]!) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A new ascending array of both; `added` goes after existing logs of the same time. */
function mergeByTime(sorted: LogRecord[], added: LogRecord[]): LogRecord[] {
  // a time that does not parse compares equal, so such a record keeps its place among the given ones
  const b = added.map((r) => [time(r), r] as const).sort((x, y) => x[0] - y[0] || 0);
  const out: LogRecord[] = [];
  let j = 0;
  for (const r of sorted) {
    const t = time(r);
    while (j < b.length && b[j]![0] < t) out.push(b[j++]![1]);
    out.push(r);
  }
  while (j < b.length) out.push(b[j++]![1]);
  return out;
}

function safeDecode(path: string): string | undefined {
  try { return decodeURIComponent(path); } catch { return undefined; }
}

/** Logs with one timestamp come in no fixed order: a fresh shuffle of each tie group (in place). */
function shuffleTies(a: LogRecord[]): void {
  let start = 0;
  for (let i = 1; i <= a.length; i++) {
    if (i < a.length && a[i]!.created_timestamp === a[start]!.created_timestamp) continue;
    for (let j = i - 1; j > start; j--) {
      const k = start + Math.floor(Math.random() * (j - start + 1));
      [a[j], a[k]] = [a[k]!, a[j]!];
    }
    start = i;
  }
}
