import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { SEVERITIES, type AppName, type LogRecord } from '../types.js';
import { generateLogs, type GenerateOptions } from './data.js';
import { Faults, type FaultSpec } from './faults.js';

export interface EmulatorOptions {
  tenant?: string;
  keyId?: string;
  keySecret?: string;
  port?: number;
  tls?: { key: string | Buffer; cert: string | Buffer };
  latencyMs?: number;
  data?: GenerateOptions | { Investigate: LogRecord[]; Detect: LogRecord[] };
}
export interface RequestRecord { method: string; path: string; query: Record<string, string>; headers: Record<string, string | string[] | undefined>; status: number; returned: number }
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
const FILTERS = ['severity', 'service', 'object_type', 'activity_type'] as const;

interface Snapshot { app: AppName; ids: LogRecord[]; created: number; lastPage?: LogRecord[] }

/** The log API of ../shared/api-contract.md, with generated data and switchable faults. */
export async function startEmulator(o: EmulatorOptions = {}): Promise<Emulator> {
  const tenant = o.tenant ?? 'acme';
  const keyId = o.keyId ?? 'test-key-id';
  const keySecret = o.keySecret ?? 'test-key-secret';
  const expectedAuth = `Basic ${Buffer.from(`${keyId}:${keySecret}`).toString('base64')}`;
  const logs: Record<AppName, LogRecord[]> = o.data && 'Investigate' in o.data && Array.isArray(o.data.Investigate)
    ? (o.data as Record<AppName, LogRecord[]>)
    : generateLogs(o.data as GenerateOptions | undefined);
  const requests: RequestRecord[] = [];
  const faults = new Faults();
  let latency = o.latencyMs ?? 0;
  const snapshots = new Map<string, Snapshot>();
  const sockets = new Set<Socket>();
  const base = `/${tenant}/api/admin/v1/logs/get/`;

  const send = (res: ServerResponse, status: number, body: string, type = 'application/json', headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const err = (res: ServerResponse, status: number, msg: string) => send(res, status, JSON.stringify({ error: msg }));

  async function handle(req: IncomingMessage, res: ServerResponse, rec: RequestRecord): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    rec.path = url.pathname;
    rec.query = Object.fromEntries(url.searchParams);
    if (url.pathname.startsWith('/_emulator/')) return admin(req, res, url.pathname);
    if (req.method !== 'GET' || url.pathname !== base) return err(res, 404, 'not found');
    if (req.headers.authorization !== expectedAuth) return err(res, 401, 'invalid credentials');
    if (String(req.headers['x-elastica-dbname-resolved']) !== 'True') return err(res, 400, 'missing X-Elastica-Dbname-Resolved');
    const q = rec.query;
    const app = q.app as AppName;
    if (app !== 'Investigate' && app !== 'Detect') return err(res, 400, 'app must be Investigate or Detect');
    if (q.subtype !== (app === 'Investigate' ? 'all' : 'incidents')) return err(res, 400, 'bad subtype');
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return err(res, 400, 'limit must be 1..1000');
    const fault = faults.pick(app, q.cursor !== undefined);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (fault && (await applyFault(fault, req, res))) return;

    let snap: Snapshot | undefined;
    let offset = 0;
    let cursor = q.cursor;
    if (cursor !== undefined) {
      snap = snapshots.get(cursor);
      offset = Number(q.offset ?? 0);
      if (!snap || !Number.isInteger(offset) || offset < 0) return err(res, 400, 'unknown or expired cursor');
    } else {
      const bound = Date.parse(q.created_timestamp ?? '');
      if (q.created_timestamp === undefined || Number.isNaN(bound)) return err(res, 400, 'created_timestamp must be ISO 8601');
      if (bound < Date.now() - RETENTION_MS) return err(res, 400, 'created_timestamp is older than the retention period');
      const filters: Partial<Record<(typeof FILTERS)[number], Set<string>>> = {};
      for (const f of FILTERS) if (q[f] !== undefined && q[f] !== '') filters[f] = new Set(q[f]!.split(','));
      for (const s of filters.severity ?? []) if (!SEVERITIES[app].includes(s)) return err(res, 400, `severity ${s} is not valid for ${app}`);
      // `!(x < bound)`: a record whose time does not parse is still served (tests feed such bad records)
      const hit = logs[app].filter((r) => !(Date.parse(r.created_timestamp) < bound)
        && FILTERS.every((f) => !filters[f] || filters[f]!.has(String(r[f]))));
      shuffleTies(hit);
      snap = { app, ids: hit, created: Date.now() };
      cursor = randomBytes(8).toString('hex');
      snapshots.set(cursor, snap);
      if (snapshots.size > 1000) snapshots.delete(snapshots.keys().next().value!);
    }
    let page = snap.ids.slice(offset, offset + limit);
    if (fault?.type === 'repeat' && snap.lastPage) page = [...snap.lastPage.slice(0, 5), ...page];
    snap.lastPage = page;
    const nextOffset = offset + limit;
    const params = new URLSearchParams(Object.entries(q).filter(([k]) => k !== 'offset' && k !== 'cursor'));
    const next = nextOffset < snap.ids.length ? `${base}?${params.toString()}&cursor=${cursor}&offset=${nextOffset}` : null;
    const total = fault?.type === 'totalcount' ? Math.floor(Math.random() * 100_000) : snap.ids.length;
    rec.returned = page.length;
    send(res, 200, JSON.stringify({ meta: { limit, total_count: total, next }, logs: page }));
  }

  /** Returns true when the fault answered (or swallowed) the request. */
  async function applyFault(f: FaultSpec, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    switch (f.type) {
      case 'http500json': err(res, 500, 'internal error'); return true;
      case 'http502html': send(res, 502, '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', 'text/html'); return true;
      case 'http503': send(res, 503, 'Service Unavailable', 'text/plain'); return true;
      case 'http504': send(res, 504, '<html><title>504 Gateway Time-out</title></html>', 'text/html'); return true;
      case 'http429': send(res, 429, '{"error":"slow down"}', 'application/json', { 'retry-after': String(f.retryAfter ?? 1) }); return true;
      case 'http400': err(res, 400, 'bad query parameter'); return true;
      case 'http401': send(res, 401, ''); return true;
      case 'http403': err(res, 403, 'access profile does not allow this app'); return true;
      case 'http404': err(res, 404, 'unknown tenant'); return true;
      case 'hang': return true; // never answered; close() destroys the socket
      case 'reset':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100000 });
        res.write('{"meta":{"limit":1000,"total_count":5,"next":null},"logs":[{"_id":"');
        setTimeout(() => req.socket.destroy(), 5);
        return true;
      case 'truncated': send(res, 200, '{"meta":{"limit":1000,"total_count":5,"next":null},"logs":[{"_id":"abc","created_ti'); return true;
      case 'notjson': send(res, 200, '<html><body>Maintenance</body></html>', 'text/html'); return true;
      case 'nologs': send(res, 200, '{"meta":{"limit":1000,"total_count":0,"next":null}}'); return true;
      default: return false; // repeat, totalcount: shape a normal page
    }
  }

  async function admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let body = '';
    for await (const c of req) body += String(c);
    if (path === '/_emulator/faults' && req.method === 'POST') faults.set(JSON.parse(body || '[]') as FaultSpec[]);
    else if (path === '/_emulator/latency' && req.method === 'POST') latency = Number((JSON.parse(body || '{}') as { ms?: number }).ms ?? 0);
    else if (path === '/_emulator/stats') {
      return send(res, 200, JSON.stringify({ requests: requests.length, counts: { Investigate: logs.Investigate.length, Detect: logs.Detect.length } }));
    } else return err(res, 404, 'not found');
    send(res, 200, '{"ok":true}');
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, authorization: req.headers.authorization ? '[redacted]' : undefined };
    const rec: RequestRecord = { method: req.method ?? 'GET', path: '', query: {}, headers, status: 0, returned: 0 };
    requests.push(rec);
    res.on('finish', () => { rec.status = res.statusCode; });
    handle(req, res, rec).catch((e: unknown) => {
      if (!res.headersSent) err(res, 500, String(e));
    });
  };
  const server: Server = o.tls ? createHttps({ key: o.tls.key, cert: o.tls.cert }, onRequest) : createHttp(onRequest);
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('secureConnection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/`;
  return {
    url, port, logs, requests,
    setFaults: (f) => faults.set(f),
    setLatency: (ms) => { latency = ms; },
    addLogs(app, records) {
      logs[app].push(...records);
      logs[app].sort((a, b) => Date.parse(a.created_timestamp) - Date.parse(b.created_timestamp));
    },
    configFile(dir, extra = {}) {
      const p = join(dir, 'config.json');
      writeFileSync(p, JSON.stringify({ user_id: '5f1c0000', api_server: url, tenant, key_id: keyId, key_secret: keySecret, ...extra }, null, 2), { mode: 0o600 });
      return p;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Logs with one timestamp come in no fixed order: shuffle each tie group (in place). */
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
