import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../src/emulator/data.js';
import type { FaultSpec } from '../src/emulator/faults.js';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { SEVERITIES, type AppName, type LogRecord } from '../src/types.js';

const AUTH = `Basic ${Buffer.from('test-key-id:test-key-secret').toString('base64')}`;
const HEADERS = { authorization: AUTH, 'x-elastica-dbname-resolved': 'True', accept: 'application/json' };
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Page { meta: { limit: number; total_count: number; next: string | null }; logs: LogRecord[] }

/** The agent's first query: values percent-encoded, lists comma-joined. */
function firstPath(app: AppName, start: string, extra: Record<string, string | string[]> = {}, tenant = 'acme'): string {
  const parts = [`app=${app}`, `subtype=${app === 'Investigate' ? 'all' : 'incidents'}`, `created_timestamp=${encodeURIComponent(start)}`];
  for (const [k, v] of Object.entries(extra)) parts.push(`${k}=${(Array.isArray(v) ? v : [v]).map(encodeURIComponent).join(',')}`);
  return `/${tenant}/api/admin/v1/logs/get/?${parts.join('&')}`;
}
const get = (emu: Emulator, path: string, headers: Record<string, string> = HEADERS) => fetch(emu.url + path.replace(/^\//, ''), { headers });
async function page(emu: Emulator, path: string): Promise<Page> {
  const res = await get(emu, path);
  expect(res.status, await res.clone().text().then((t) => t.slice(0, 200))).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as Page;
}
async function pullAll(emu: Emulator, path: string): Promise<{ logs: LogRecord[]; pages: Page[] }> {
  const pages: Page[] = [];
  for (let p: string | null = path; p !== null;) {
    const pg: Page = await page(emu, p);
    pages.push(pg);
    p = pg.meta.next;
  }
  return { logs: pages.flatMap((p) => p.logs), pages };
}
const ids = (a: LogRecord[]) => a.map((r) => r._id);
const groups = (a: LogRecord[]) => {
  const m = new Map<string, number>();
  for (const r of a) m.set(r.created_timestamp, (m.get(r.created_timestamp) ?? 0) + 1);
  return m;
};
const oldest = (emu: Emulator, app: AppName) => emu.logs[app][0]!.created_timestamp;

describe('generateLogs', () => {
  const now = Date.parse('2026-11-22T10:00:00.000Z');
  const d = generateLogs({ seed: 5, now });

  it('is deterministic, sorted, unique and shaped like the contract', () => {
    expect(JSON.stringify(generateLogs({ seed: 5, now }))).toBe(JSON.stringify(d));
    expect(generateLogs({ seed: 6, now }).Investigate[0]!._id).not.toBe(d.Investigate[0]!._id);
    expect(d.Investigate).toHaveLength(3000);
    expect(d.Detect).toHaveLength(1000);
    expect(new Set([...ids(d.Investigate), ...ids(d.Detect)]).size).toBe(4000);
    for (const app of ['Investigate', 'Detect'] as const) {
      const a = d[app];
      for (let i = 1; i < a.length; i++) expect(a[i - 1]!.created_timestamp <= a[i]!.created_timestamp).toBe(true);
      for (const r of a) {
        expect(r.created_timestamp).toMatch(ISO_MS);
        expect(typeof r.severity === 'string' && typeof r.service === 'string').toBe(true);
      }
      expect(new Set(a.map((r) => r.severity))).toEqual(new Set(SEVERITIES[app]));
      expect(Date.parse(a.at(-1)!.created_timestamp)).toBeLessThanOrEqual(now - 60_000);
      expect(Date.parse(a[0]!.created_timestamp)).toBeGreaterThanOrEqual(now - 7 * 86_400_000);
      const sizes = [...groups(a).values()];
      expect(sizes.filter((s) => s >= 2 && s <= 50).length).toBeGreaterThan(5);
    }
    expect(Math.max(...groups(d.Investigate).values())).toBe(1500);
    const info = d.Investigate.filter((r) => r.severity === 'informational').length;
    for (const s of ['error', 'critical', 'warning']) expect(info).toBeGreaterThan(d.Investigate.filter((r) => r.severity === s).length);
    expect(d.Detect.every((r) => typeof r.threat_score === 'number' && typeof r.incident_id === 'string')).toBe(true);
    expect(new Set(d.Investigate.map((r) => r.service))).toEqual(new Set(['Box', 'Office 365', 'Yahoo Mail', 'Google Drive', 'Salesforce', 'Dropbox', 'Slack']));
    expect(d.Investigate.some((r) => r.latitude === undefined) && d.Investigate.some((r) => typeof r.latitude === 'number')).toBe(true);
    expect(d.Investigate.some((r) => String(r.host).includes(':'))).toBe(true);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('hostile values in about a fifth of the records, never a NUL', () => {
    const all = [...d.Investigate, ...d.Detect];
    const hostile = all.filter((r) => 'x_custom_field' in r);
    expect(hostile.length / all.length).toBeGreaterThan(0.15);
    expect(hostile.length / all.length).toBeLessThan(0.25);
    const text = JSON.stringify(d);
    expect(text).not.toContain('\\u0000');
    const values = hostile.flatMap((r) => Object.values(r).filter((v): v is string => typeof v === 'string')).join('\n');
    for (const s of ['|', '=', '\\', '\r\n', '\r', '\t', '"', 'cs1=forged', 'key=value|', 'é', '中文', '😀', 'مرحبا', '  leading']) expect(values).toContain(s);
    expect(hostile.some((r) => typeof r.message === 'string' && r.message.length > 2000)).toBe(true);
    expect(hostile.some((r) => typeof r.user_name === 'string' && r.user_name.endsWith('\\'))).toBe(true);
    expect(hostile[0]).toHaveProperty(['weird key with space']);
    expect(hostile[0]!.nested).toMatchObject({ a: [1, { b: null }] });
    const clean = generateLogs({ seed: 5, now, hostile: false });
    expect(JSON.stringify(clean)).not.toMatch(/x_custom_field|\\[rnt]/);
  });

  it('bigValue, valueBytes, and 200,000 records in under 3 s', () => {
    const b = generateLogs({ counts: { Investigate: 10, Detect: 0 }, valueBytes: 5000, bigValue: { app: 'Investigate', bytes: 1_000_000 }, hostile: false });
    expect(b.Investigate.filter((r) => (r.message as string).length === 1_000_000)).toHaveLength(1);
    expect(b.Investigate.filter((r) => (r.message as string).length === 5000)).toHaveLength(9);
    const t0 = performance.now();
    const big = generateLogs({ counts: { Investigate: 100_000, Detect: 100_000 }, hostile: false });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(big.Investigate.length + big.Detect.length).toBe(200_000);
  });
});

describe('emulator: queries and paging', () => {
  let emu: Emulator;
  beforeAll(async () => { emu = await startEmulator({ data: { seed: 3, counts: { Investigate: 3000, Detect: 1000 }, tieGroupSize: 1500 } }); });
  afterAll(() => emu.close());

  it('pages cover every log exactly once, in time order, with a relative next', async () => {
    for (const app of ['Investigate', 'Detect'] as const) {
      const first = firstPath(app, oldest(emu, app));
      const { logs, pages } = await pullAll(emu, first);
      expect(ids(logs).sort()).toEqual(ids(emu.logs[app]).sort());
      for (let i = 1; i < logs.length; i++) expect(logs[i - 1]!.created_timestamp <= logs[i]!.created_timestamp).toBe(true);
      expect(pages.length).toBe(Math.ceil(emu.logs[app].length / 1000));
      for (const p of pages) expect(p.meta).toMatchObject({ limit: 1000, total_count: emu.logs[app].length });
      if (pages.length > 1) expect(pages[0]!.meta.next).toMatch(new RegExp(`^${first.replace(/[?]/g, '\\?')}&cursor=[0-9a-f]+&offset=1000$`));
      expect(pages.at(-1)!.meta.next).toBeNull();
    }
    const { pages } = await pullAll(emu, `${firstPath('Detect', oldest(emu, 'Detect'))}&limit=300`);
    expect(pages.map((p) => p.logs.length)).toEqual([300, 300, 300, 100]);
  });

  it('a fresh shuffle of tie groups for every first request', async () => {
    const [ts, size] = [...groups(emu.logs.Investigate)].find(([, n]) => n === 1500)!;
    const a = await page(emu, firstPath('Investigate', ts));
    const b = await page(emu, firstPath('Investigate', ts));
    expect(size).toBeGreaterThan(1000);
    expect(a.logs.every((r) => r.created_timestamp === ts)).toBe(true);
    expect(ids(a.logs)).not.toEqual(ids(b.logs));
  });

  it('created_timestamp is an inclusive lower bound', async () => {
    const r = emu.logs.Investigate[2500]!;
    const want = emu.logs.Investigate.filter((x) => x.created_timestamp >= r.created_timestamp);
    const got = (await pullAll(emu, firstPath('Investigate', r.created_timestamp))).logs;
    expect(ids(got).sort()).toEqual(ids(want).sort());
    const later = new Date(Date.parse(r.created_timestamp) + 1).toISOString();
    const after = (await pullAll(emu, firstPath('Investigate', later))).logs;
    expect(ids(after)).not.toContain(r._id);
    expect(after.length).toBe(emu.logs.Investigate.filter((x) => x.created_timestamp >= later).length);
  });

  it('filters: exact, case-sensitive, comma lists, values with spaces', async () => {
    const cases: Array<[AppName, Record<string, string[]>]> = [
      ['Investigate', { severity: ['critical', 'error'] }],
      ['Investigate', { service: ['Yahoo Mail'] }],
      ['Investigate', { service: ['Office 365', 'Box'], object_type: ['Add user'] }],
      ['Investigate', { activity_type: ['Policy Alert'] }],
      ['Investigate', { service: ['yahoo mail'] }],
      ['Detect', { severity: ['high'], activity_type: ['Login', 'Upload'] }],
    ];
    for (const [app, f] of cases) {
      const want = emu.logs[app].filter((r) => Object.entries(f).every(([k, v]) => v.includes(r[k] as string)));
      const got = (await pullAll(emu, firstPath(app, oldest(emu, app), f))).logs;
      expect(ids(got).sort(), JSON.stringify(f)).toEqual(ids(want).sort());
    }
    expect((await pullAll(emu, firstPath('Investigate', oldest(emu, 'Investigate'), { service: ['Yahoo Mail'] }))).logs.length).toBeGreaterThan(0);
    expect((await get(emu, firstPath('Detect', oldest(emu, 'Detect'), { severity: ['informational'] }))).status).toBe(400);
  });

  it('logs added while paging are not in that snapshot, but in the next one', async () => {
    const first = await page(emu, firstPath('Detect', oldest(emu, 'Detect')));
    const mid = emu.logs.Detect[700]!.created_timestamp;
    const added = [1, 2, 3].map((i) => ({ ...emu.logs.Detect[0]!, _id: `added${i}`, created_timestamp: mid }));
    emu.addLogs('Detect', added);
    let rest: LogRecord[] = [];
    if (first.meta.next) rest = (await pullAll(emu, first.meta.next)).logs;
    expect(ids([...first.logs, ...rest]).filter((id) => id.startsWith('added'))).toEqual([]);
    const again = (await pullAll(emu, firstPath('Detect', oldest(emu, 'Detect')))).logs;
    expect(ids(again).filter((id) => id.startsWith('added')).sort()).toEqual(['added1', 'added2', 'added3']);
    expect(emu.logs.Detect).toHaveLength(1003);
    const a = emu.logs.Detect;
    for (let i = 1; i < a.length; i++) expect(a[i - 1]!.created_timestamp <= a[i]!.created_timestamp).toBe(true);
  });

  it('rejects what the contract rejects', async () => {
    const ok = firstPath('Investigate', oldest(emu, 'Investigate'));
    const check = async (path: string, status: number, error?: string, headers: Record<string, string> = HEADERS) => {
      const res = await fetch(emu.url + path.replace(/^\//, ''), { headers });
      expect(res.status, path).toBe(status);
      if (error) expect(await res.json()).toEqual({ error });
    };
    const bad = { ...HEADERS, authorization: `Basic ${Buffer.from('test-key-id:wrong').toString('base64')}` };
    await check(ok, 401, 'invalid credentials', bad);
    await check(ok, 401, 'invalid credentials', { 'x-elastica-dbname-resolved': 'True' });
    await check(ok, 400, 'missing X-Elastica-Dbname-Resolved', { authorization: AUTH });
    await check(ok.replace('/acme/', '/other/'), 404, 'not found');
    await check(`/${ok}`, 404, 'not found');
    await check(ok.replace('/api/', '//api/'), 404);
    await check(ok.replace('logs/get/', 'logs/list/'), 404);
    const old = new Date(Date.now() - 181 * 86_400_000).toISOString();
    await check(firstPath('Investigate', old), 400, 'created_timestamp is older than the retention period');
    for (const ts of ['2026-11-22', 'yesterday', '2026-11-22T10:00:00Z']) await check(firstPath('Investigate', ts), 400);
    for (const l of ['0', '1001', 'ten', '-1']) await check(`${ok}&limit=${l}`, 400);
    await check(ok.replace('app=Investigate', 'app=investigate'), 400);
    await check(ok.replace('subtype=all', 'subtype=incidents'), 400);
    await check(`${ok}&cursor=nope&offset=0`, 400);
  });

  it('records requests with the authorization redacted; keep-alive reuses the socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const one = () => new Promise<boolean>((resolve, reject) => {
      const req = httpRequest(`${emu.url}${firstPath('Detect', oldest(emu, 'Detect')).slice(1)}&limit=7`, { agent, headers: HEADERS }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.reusedSocket));
      });
      req.on('error', reject);
      req.end();
    });
    expect(await one()).toBe(false);
    expect(await one()).toBe(true);
    agent.destroy();
    const rec = emu.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'GET', path: '/acme/api/admin/v1/logs/get/', status: 200, returned: 7 });
    expect(rec.query).toMatchObject({ app: 'Detect', subtype: 'incidents', limit: '7' });
    expect(rec.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(emu.requests)).not.toContain(AUTH.slice(6));
  });

  it('configFile writes a 0600 config.json for this emulator', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emu-'));
    const p = emu.configFile(dir, { extra: 1 });
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(p, 'utf8'))).toMatchObject({ api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: 'test-key-secret', extra: 1 });
    expect(typeof JSON.parse(readFileSync(p, 'utf8')).user_id).toBe('string');
  });
});

describe('emulator: faults and latency', () => {
  let emu: Emulator;
  beforeAll(async () => { emu = await startEmulator({ data: { seed: 4, counts: { Investigate: 250, Detect: 50 } } }); });
  afterAll(() => emu.close());
  const path = (app: AppName = 'Investigate', limit = 100) => `${firstPath(app, oldest(emu, app))}&limit=${limit}`;
  const withFaults = async <T>(f: FaultSpec[], fn: () => Promise<T>): Promise<T> => {
    emu.setFaults(f);
    try { return await fn(); } finally { emu.setFaults([]); }
  };

  it('error statuses, bodies and Retry-After', async () => {
    const cases: Array<[FaultSpec, number, string]> = [
      [{ type: 'http500json' }, 500, 'application/json'], [{ type: 'http502html' }, 502, 'text/html'],
      [{ type: 'http503' }, 503, 'text/plain'], [{ type: 'http504' }, 504, 'text/html'],
      [{ type: 'http429' }, 429, 'application/json'], [{ type: 'http400' }, 400, 'application/json'],
      [{ type: 'http401' }, 401, 'application/json'], [{ type: 'http403' }, 403, 'application/json'],
      [{ type: 'http404' }, 404, 'application/json'],
    ];
    for (const [f, status, type] of cases) {
      const res = await withFaults([f], () => get(emu, path()));
      expect(res.status, f.type).toBe(status);
      expect(res.headers.get('content-type')).toBe(type);
      if (f.type === 'http429') expect(res.headers.get('retry-after')).toBe('1');
      await res.arrayBuffer();
    }
    const r = await withFaults([{ type: 'http429', retryAfter: 7 }], () => get(emu, path()));
    expect(r.headers.get('retry-after')).toBe('7');
  });

  it('count, app, onlyPaged, probability and list order select the requests', async () => {
    const statuses = async (n: number, p = path()) => { const s: number[] = []; for (let i = 0; i < n; i++) s.push((await get(emu, p)).status); return s; };
    expect(await withFaults([{ type: 'http503', count: 2 }], () => statuses(3))).toEqual([503, 503, 200]);
    expect(await withFaults([{ type: 'http503', app: 'Detect' }], async () => [...await statuses(1), ...await statuses(1, path('Detect'))])).toEqual([200, 503]);
    expect(await withFaults([{ type: 'http503', probability: 0 }], () => statuses(3))).toEqual([200, 200, 200]);
    expect(await withFaults([{ type: 'http504', count: 1 }, { type: 'http503' }], () => statuses(2))).toEqual([504, 503]);
    await withFaults([{ type: 'http500json', onlyPaged: true }], async () => {
      const p = await page(emu, path());
      expect((await get(emu, p.meta.next!)).status).toBe(500);
    });
  });

  it('bodies that are not a page: notjson, nologs, truncated, badlog, reset', async () => {
    const body = async (f: FaultSpec) => withFaults([f], async () => { const res = await get(emu, path()); return { res, text: await res.text() }; });
    const html = await body({ type: 'notjson' });
    expect(html.res.status).toBe(200);
    expect(() => JSON.parse(html.text)).toThrow();
    const nologs = await body({ type: 'nologs' });
    expect(JSON.parse(nologs.text)).toHaveProperty('meta');
    expect(JSON.parse(nologs.text)).not.toHaveProperty('logs');
    const cut = await body({ type: 'truncated' });
    expect(cut.res.status).toBe(200);
    expect(Number(cut.res.headers.get('content-length'))).toBe(Buffer.byteLength(cut.text));
    expect(cut.text.startsWith('{"meta":')).toBe(true);
    expect(() => JSON.parse(cut.text)).toThrow();
    const bad = await body({ type: 'badlog' });
    expect(bad.res.status).toBe(200);
    expect(bad.text).toMatch(/^\{"meta":\{.*\},"logs":\[\{"broken":undefined,"_id":/);
    expect(() => JSON.parse(bad.text)).toThrow();
    await expect(body({ type: 'reset' })).rejects.toThrow();
    expect((await get(emu, path())).status).toBe(200);
  });

  it('repeat prepends logs of the previous page; totalcount changes', async () => {
    const p1 = await page(emu, path());
    const p2 = await withFaults([{ type: 'repeat' }], () => page(emu, p1.meta.next!));
    expect(ids(p2.logs.slice(0, 5))).toEqual(ids(p1.logs.slice(0, 5)));
    expect(p2.logs).toHaveLength(105);
    const p3 = await withFaults([{ type: 'repeat', n: 3 }], () => page(emu, p2.meta.next!));
    expect(ids(p3.logs.slice(0, 3))).toEqual(ids(p2.logs.slice(5, 8)));
    const union = new Set(ids([...p1.logs, ...p2.logs, ...p3.logs]));
    expect(p3.logs).toHaveLength(53);
    expect(union.size).toBe(250);
    const t = await withFaults([{ type: 'totalcount' }], () => page(emu, path()));
    expect(t.meta.total_count).not.toBe(emu.logs.Investigate.length);
    expect(t.logs).toHaveLength(100);
  });

  it('latency delays each logs request', async () => {
    emu.setLatency(200);
    try {
      const t0 = performance.now();
      await page(emu, path());
      expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    } finally { emu.setLatency(0); }
  });

  it('admin endpoints switch faults and latency from another process', async () => {
    const post = (p: string, body: string) => fetch(`${emu.url}_emulator/${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(await (await post('faults', JSON.stringify([{ type: 'http503', count: 1 }]))).json()).toEqual({ ok: true });
    expect((await get(emu, path())).status).toBe(503);
    expect((await get(emu, path())).status).toBe(200);
    expect((await post('faults', '[{"type":"nonsense"}]')).status).toBe(400);
    expect((await post('faults', 'not json')).status).toBe(400);
    expect((await post('latency', '{"ms":150}')).status).toBe(200);
    const t0 = performance.now();
    await get(emu, path());
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await post('latency', '{"ms":0}');
    const stats = (await (await fetch(`${emu.url}_emulator/stats`)).json()) as { requests: number; counts: Record<AppName, number> };
    expect(stats.counts).toEqual({ Investigate: 250, Detect: 50 });
    expect(stats.requests).toBe(emu.requests.filter((r) => !r.path.startsWith('/_emulator/')).length);
  });

  it('close() ends a hung request', async () => {
    const e = await startEmulator({ data: { counts: { Investigate: 10, Detect: 0 } } });
    e.setFaults([{ type: 'hang' }]);
    const pending = fetch(`${e.url}${firstPath('Investigate', oldest(e, 'Investigate')).slice(1)}`, { headers: HEADERS });
    const settled = pending.then(() => 'answered', () => 'failed');
    await new Promise((r) => setTimeout(r, 200));
    expect(e.requests).toHaveLength(1);
    expect(await Promise.race([settled, new Promise((r) => setTimeout(() => r('pending'), 50))])).toBe('pending');
    await e.close();
    expect(await settled).toBe('failed');
    expect(e.requests[0]!.status).toBe(0);
  });
});

describe('emulator: HTTPS and the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emu-tls-'));
  let tls: { key: string; cert: string } | undefined;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'),
      '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    tls = { key: join(dir, 'k.pem'), cert: join(dir, 'c.pem') };
  } catch { /* no openssl: the HTTPS test is skipped */ }

  it.skipIf(!tls)('serves HTTPS when given a key and certificate', async () => {
    const emu = await startEmulator({ tls: { key: readFileSync(tls!.key), cert: readFileSync(tls!.cert) }, data: { counts: { Investigate: 20, Detect: 5 } } });
    try {
      expect(emu.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${emu.url}${firstPath('Detect', oldest(emu, 'Detect')).slice(1)}`, { headers: HEADERS, ca: readFileSync(tls!.cert) }, (res) => {
          let s = '';
          res.on('data', (c: Buffer) => { s += c.toString(); });
          res.on('end', () => resolve(s));
        });
        req.on('error', reject);
        req.end();
      });
      expect((JSON.parse(body) as Page).logs).toHaveLength(5);
    } finally { await emu.close(); }
  });

  const cli = join(import.meta.dirname, '..', 'dist', 'emulator', 'cli.js');
  it.skipIf(!existsSync(cli))('cli: prints one JSON line, writes the config, stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [cli, '--investigate', '40', '--detect', '10', '--no-hostile', '--write-config', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    const { url, port } = JSON.parse(line) as { url: string; port: number };
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).api_server).toBe(url);
    expect(await (await fetch(`${url}_emulator/stats`)).json()).toEqual({ requests: 0, counts: { Investigate: 40, Detect: 10 } });
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
