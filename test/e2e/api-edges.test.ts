// The API client and pager at the edges (from an audit; each failing case failed before its fix) (src/source/*.ts): where the key may go, loops, retries,
// Retry-After, bodies, timeouts, URLs. Behaviours the emulator cannot produce come from a tiny
// node:http server started here on an ephemeral loopback port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNet, type Socket } from 'node:net';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCerts } from '../helpers/certs.js';
import { jsonLines, readLog, runAgent, startAgent, tmp, type AgentResult } from '../helpers/agent.js';

const KEY_ID = 'audit-key-id';
const SECRET = 'Au9-d1t-S3cret-never-leak';
const B64 = Buffer.from(`${KEY_ID}:${SECRET}`).toString('base64');
const AUTH = `Basic ${B64}`;
const PATH = '/acme/api/admin/v1/logs/get/';

interface Req { method: string; url: string; auth: boolean; anyAuth: boolean; at: number; headers: Record<string, unknown> }
interface Fake { url: string; port: number; reqs: Req[]; close(): Promise<void> }
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

const servers: Fake[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A programmable log API on loopback; records each request (whether it carried the key, never the key). */
async function fakeApi(handler: Handler, host = '127.0.0.1'): Promise<Fake> {
  const reqs: Req[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const headers: Record<string, unknown> = { ...req.headers };
    delete headers.authorization;
    reqs.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization === AUTH, anyAuth: req.headers.authorization !== undefined, at: Date.now(), headers });
    handler(req, res, reqs.length);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  const fake: Fake = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    reqs,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
  servers.push(fake);
  return fake;
}

function records(n: number, tag: string) {
  const t0 = Date.now() - 3_600_000;
  return Array.from({ length: n }, (_, i) => ({
    _id: `${tag}-${i}`, created_timestamp: new Date(t0 + i * 1000).toISOString(), severity: 'high', service: 'Box', message: `log ${i}`,
  }));
}
const page = (logs: unknown[], next: string | null) => JSON.stringify({ meta: { limit: 1000, total_count: logs.length, next }, logs });
function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function setup(apiServer: string, extra: string[] = [], cfg: Record<string, unknown> = {}) {
  const dir = tmp('sa-edge-');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ api_server: apiServer, tenant: 'acme', key_id: KEY_ID, key_secret: SECRET, ...cfg }), { mode: 0o600 });
  chmodSync(config, 0o600);
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const args = ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--elastica_app', 'detect',
    '--log_file', log, '--request_timeout', '2', '--retries', '2', ...extra];
  return { dir, config, out, log, args };
}
const clean = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const k of ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy', 'NO_PROXY', 'no_proxy']) delete env[k];
  return env;
};
const run = (args: string[]) => runAgent(args, { env: clean(), replaceEnv: true });

// ---------------------------------------------------------------------------------------------
describe('meta.next never takes the key to another host', () => {
  // each entry: meta.next given the evil server's port
  const NEXTS: Array<[string, (evil: number, api: number) => string]> = [
    ['an absolute URL on another port', (e) => `http://127.0.0.1:${e}${PATH}?app=Detect&cursor=x`],
    ['another host name for the same server', (_e, a) => `http://localhost:${a}${PATH}?app=Detect&cursor=x`],
    ['https instead of http', (_e, a) => `https://127.0.0.1:${a}${PATH}?app=Detect&cursor=x`],
    ['upper-case scheme', (e) => `HTTP://127.0.0.1:${e}${PATH}?cursor=x`],
    ['a scheme without slashes', (e) => `http:127.0.0.1:${e}${PATH}?cursor=x`],
    ['a protocol-relative URL', (e) => `//127.0.0.1:${e}${PATH}?cursor=x`],
    ['backslashes', (e) => `/\\127.0.0.1:${e}${PATH}?cursor=x`],
    ['userinfo trick', (e) => `http://127.0.0.1:1@127.0.0.1:${e}${PATH}?cursor=x`],
    ['leading whitespace', (e) => ` http://127.0.0.1:${e}${PATH}?cursor=x`],
  ];
  it.each(NEXTS)('%s', async (_name, next) => {
    const evil = await fakeApi((_q, res) => send(res, 200, page([], null)));
    let apiPort = 0;
    const api = await fakeApi((req, res, n) => {
      if (n === 1) return send(res, 200, page(records(2, 'a'), next(evil.port, apiPort)));
      // anything else that reaches the API itself: an unknown path
      send(res, 404, '{"error":"unknown"}');
    });
    apiPort = api.port;
    const s = setup(api.url, ['--retries', '0']);
    await run(s.args);
    expect(evil.reqs.length).toBe(0);
    // the API server got the key only on its own origin; no request on it carried another Host
    for (const r of api.reqs.slice(1)) expect(r.headers.host).toBe(`127.0.0.1:${api.port}`);
    // no request to api via the "localhost" name carried the key either (it would be a different origin)
    expect(api.reqs.filter((r) => r.headers.host !== `127.0.0.1:${api.port}` && r.anyAuth)).toEqual([]);
  }, 30_000);

  it.each([301, 302, 307, 308])('a %i redirect to another host is not followed', async (status) => {
    const evil = await fakeApi((_q, res) => send(res, 200, page(records(1, 'evil'), null)));
    const api = await fakeApi((_q, res) => send(res, status, '', { location: `http://127.0.0.1:${evil.port}${PATH}?app=Detect` }));
    const s = setup(api.url);
    const res = await run(s.args);
    expect(evil.reqs.length).toBe(0);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`answered ${status}`));
    expect(jsonLines(s.out)).toEqual([]);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
describe('page chains that loop', () => {
  it('meta.next pointing at the very page just returned stops the run instead of looping until --max_runtime', async () => {
    const logs = records(3, 'loop');
    const self = `${PATH}?app=Detect&subtype=incidents&cursor=same`;
    const api = await fakeApi((_q, res) => send(res, 200, page(logs, self)));
    const s = setup(api.url, ['--max_runtime', '4']);
    const t0 = Date.now();
    const res = await run(s.args);
    const secs = (Date.now() - t0) / 1000;
    // the 3 logs go out once either way
    expect(jsonLines(s.out).map((l) => l._id)).toEqual(['loop-0', 'loop-1', 'loop-2']);
    // a chain that returns to a page already read can never end: an API error, found at once
    expect({ requests: api.reqs.length, code: res.code, secs: secs < 4 }).toEqual({ requests: 2, code: 1, secs: true });
    expect(res.stderr).toMatch(/loop|cycle|again|already/i);
  }, 30_000);

  it('a cycle of two pages (A -> B -> A) stops the run', async () => {
    const a = records(2, 'A');
    const b = records(4, 'B').slice(2);
    const api = await fakeApi((req, res) => {
      const onB = (req.url ?? '').includes('cursor=B');
      send(res, 200, onB ? page(b, `${PATH}?app=Detect&cursor=A`) : page(a, `${PATH}?app=Detect&cursor=B`));
    });
    const s = setup(api.url, ['--max_runtime', '4']);
    const res = await run(s.args);
    expect(jsonLines(s.out).length).toBe(4);
    expect({ requests: api.reqs.length <= 4, code: res.code }).toEqual({ requests: true, code: 1 });
  }, 30_000);

  it('meta.next "" is read as null (no more logs now): the page is delivered, the run ends ok, the key goes nowhere else', async () => {
    const logs = records(3, 'e');
    const api = await fakeApi((_q, res) => send(res, 200, JSON.stringify({ meta: { limit: 1000, total_count: 3, next: '' }, logs })));
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(api.reqs.length).toBe(1);
    expect(readFileSync(s.out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { _id: string })._id)).toEqual(logs.map((l) => l._id));
  }, 30_000);

  it('an empty page with a next is refused (the existing guard)', async () => {
    const api = await fakeApi((_q, res) => send(res, 200, page([], `${PATH}?cursor=x`)));
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refusing to loop/);
    expect(api.reqs.length).toBe(1);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
describe('errors never carry the key out', () => {
  it('an error body that echoes the Authorization header reaches neither last_job.status nor the SIEM (heartbeat)', async () => {
    const api = await fakeApi((req, res) => send(res, 400, JSON.stringify({ error: `malformed header Authorization: ${req.headers.authorization} (key ${SECRET})` })));
    const s = setup(api.url, ['--heartbeat']);
    const results: AgentResult[] = [await run(s.args)];
    results.push(await run(['status', '--config', s.config, '--json']));
    results.push(await run(['status', '--config', s.config]));
    expect(results[0]!.code).toBe(1);
    expect(results[0]!.stderr).toMatch(/400 Bad Request/);
    const hay: Array<[string, string]> = results.map((r, i) => [`run ${i} stdout+stderr`, r.stdout + r.stderr]);
    for (const f of readdirSync(s.dir)) {
      const p = join(s.dir, f);
      if (f === 'config.json' || !statSync(p).isFile()) continue;
      hay.push([f, readFileSync(p, 'latin1')]);
    }
    expect(hay.map(([f]) => f)).toEqual(expect.arrayContaining(['last_job.status', 'out.json', 'agent.log']));
    const leaks = hay.filter(([, t]) => t.includes(B64) || t.includes(SECRET)).map(([f]) => f);
    expect(leaks).toEqual([]);
  }, 30_000);

  it('a CONNECT refused with 502 by a proxy: a clear, retried error and no secret', async () => {
    const certs = makeCerts(tmp('sa-edge-tls-'));
    let connects = 0;
    const proxy = createNet((sock) => {
      sock.once('data', () => {
        connects++;
        sock.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    try {
      const s = setup('https://localhost:9/', ['--proxy', `127.0.0.1:${port}`, '-u', 'agent', '-p', 'Pr0xy-pw-audit', '--ca_file', certs.ca, '--retries', '1']);
      const res = await run(s.args);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/proxy refused to open a tunnel to the API \(HTTP 502\)/);
      expect(connects).toBe(2);
      const all = res.stdout + res.stderr + readLog(s.log) + readFileSync(join(s.dir, 'last_job.status'), 'utf8');
      for (const n of [SECRET, B64, 'Pr0xy-pw-audit']) expect(all.includes(n)).toBe(false);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
describe('retries, Retry-After and --max_runtime', () => {
  it('Retry-After: 999999 does not keep a cron run past --max_runtime', async () => {
    const api = await fakeApi((_q, res) => send(res, 429, '{"error":"slow down"}', { 'retry-after': '999999' }));
    const s = setup(api.url, ['--max_runtime', '3']);
    const t0 = Date.now();
    const res = await run(s.args);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // no page in the whole run: a failure (audit5-time), not a quiet backlog stop
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/stopped at --max_runtime 3 s before the API answered a page/);
    expect(api.reqs.length).toBe(1);
  }, 30_000);

  it('Retry-After as an HTTP-date is waited for', async () => {
    const api = await fakeApi((_q, res, n) => {
      if (n === 1) return send(res, 429, '{}', { 'retry-after': new Date(Date.now() + 3000).toUTCString() });
      send(res, 200, page(records(2, 'd'), null));
    });
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(api.reqs.length).toBe(2);
    // an HTTP-date has a one-second resolution
    expect(api.reqs[1]!.at - api.reqs[0]!.at).toBeGreaterThanOrEqual(1500);
    expect(jsonLines(s.out).length).toBe(2);
  }, 30_000);

  it.each(['-5', 'soon', ''])('Retry-After %j falls back to the backoff and the run completes', async (v) => {
    const api = await fakeApi((_q, res, n) => {
      if (n === 1) return send(res, 429, '{}', v === '' ? {} : { 'retry-after': v });
      send(res, 200, page(records(2, 'g'), null));
    });
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(2);
  }, 30_000);

  it('429 forever: exactly 1 + --retries attempts, then exit 1', async () => {
    const api = await fakeApi((_q, res) => send(res, 429, '{"error":"too many"}', { 'retry-after': '0' }));
    const s = setup(api.url, ['--retries', '3']);
    const res = await run(s.args);
    expect(res.code).toBe(1);
    expect(api.reqs.length).toBe(4);
    expect(res.stderr).toMatch(/gave up after 4 attempts/);
  }, 30_000);

  it('a server that sends the headers and then stalls the body is cut by --request_timeout and retried', async () => {
    const api = await fakeApi((_q, res, n) => {
      const body = page(records(2, 's'), null);
      if (n === 1) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.write(body.slice(0, 10)); // then nothing
        return;
      }
      send(res, 200, body);
    });
    const s = setup(api.url, ['--request_timeout', '1']);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr + readLog(s.log)).toMatch(/UND_ERR_BODY_TIMEOUT/);
    expect(jsonLines(s.out).length).toBe(2);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
describe('bodies', () => {
  it('a body far larger than any page is not read whole into memory', async () => {
    // 1,000 logs are ~0.6 MB; the project's own tests go to 1,000 x 5 KB plus one 10 MB value.
    // An API (or a TLS-inspecting proxy) that streams without end must not grow the agent without
    // bound: it is then OOM-killed, a cron job that dies without a word or a status.
    const LIMIT = 512 << 20; // stop sending at 512 MiB
    let sent = 0;
    const chunk = Buffer.alloc(1 << 20, 0x20); // JSON whitespace
    const api = await fakeApi((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"meta":{"next":null},"logs":[');
      const pump = () => {
        while (sent < LIMIT) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end(']}');
      };
      pump();
    });
    const s = setup(api.url, ['--retries', '0', '--max_runtime', '40']);
    const a = startAgent(s.args, { env: clean(), replaceEnv: true });
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* gone */ }
    }, 50);
    const res = await a.done;
    clearInterval(poll);
    // what the agent accepted before it gave up on the body (what the server managed to write)
    expect(sent, `agent read ${(sent / 2 ** 20).toFixed(0)} MiB of one page, peak RSS ${(peakKb / 1024).toFixed(0)} MiB (exit ${res.code}: ${res.stderr.trim().slice(0, 200)})`).toBeLessThan(256 << 20);
  }, 60_000);

  it('a page with far more logs than asked for (limit ignored) ends in a clear error, not a V8 heap abort', async () => {
    // 60,000 logs of ~2 KB when 1,000 were asked for: ~125 MB of JSON
    const body = page(records(60_000, 'm').map((r) => ({ ...r, message: 'y'.repeat(2000) })), null);
    const api = await fakeApi((_q, res) => send(res, 200, body));
    const s = setup(api.url, ['--retries', '0', '--max_runtime', '40']);
    const res = await run(s.args);
    const status = JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8')) as { result: string };
    const fatal = /FATAL ERROR[^\n]*/.exec(res.stderr)?.[0];
    expect({ signal: res.signal, fatal, result: status.result }).toEqual({ signal: null, fatal: undefined, result: expect.not.stringMatching(/^running$/) });
    expect(readLog(s.log)).toMatch(/Detect/);
  }, 60_000);

  it('a body that trickles one byte every 0.5 s is cut by --request_timeout like a stalled one', async () => {
    // --request_timeout is "API connect and read timeout"; undici's bodyTimeout only times the gap
    // between two chunks, so a page that never completes holds the run until --max_runtime (exit 0, "ok")
    const api = await fakeApi((_q, res, n) => {
      if (n > 1) return send(res, 200, page(records(2, 'tr'), null));
      res.writeHead(200, { 'content-type': 'application/json' });
      const iv = setInterval(() => res.write(' '), 500);
      res.on('close', () => clearInterval(iv));
    });
    const s = setup(api.url, ['--request_timeout', '2', '--max_runtime', '12']);
    const t0 = Date.now();
    const res = await run(s.args);
    const secs = Math.round((Date.now() - t0) / 1000);
    expect({ delivered: jsonLines(s.out).length, requests: api.reqs.length, secs: secs < 10, code: res.code }, res.stderr).toEqual({ delivered: 2, requests: 2, secs: true, code: 0 });
  }, 60_000);

  it('a page with a BOM, a text/html content type and duplicate keys is read like JSON.parse reads it', async () => {
    const logs = records(2, 'bom');
    const body = `\ufeff{"meta":{"next":"/nowhere"},"meta":{"next":null},"logs":[],"logs":${JSON.stringify(logs)}}`;
    const api = await fakeApi((_q, res) => send(res, 200, Buffer.from(body, 'utf8'), { 'content-type': 'text/html' }));
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).map((l) => l._id)).toEqual(['bom-0', 'bom-1']);
    expect(api.reqs.length).toBe(1);
  }, 30_000);

  it('a gzip body the agent never asked for is a service error, not an empty page', async () => {
    const api = await fakeApi((_q, res) => send(res, 200, gzipSync(page(records(2, 'z'), null)), { 'content-encoding': 'gzip' }));
    const s = setup(api.url, ['--retries', '0']);
    const res = await run(s.args);
    expect(api.reqs[0]!.headers['accept-encoding']).toBeUndefined();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not a logs page/);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
describe('api_server and tenant forms', () => {
  it.each([
    ['a path prefix without a trailing slash', '/prefix', '/prefix'],
    ['a path prefix with a trailing slash', '/prefix/', '/prefix'],
    ['no path, no slash', '', ''],
  ])('%s: first request and meta.next both keep the prefix', async (_n, suffix, expected) => {
    const api = await fakeApi((_q, res, n) => {
      if (n === 1) return send(res, 200, page(records(2, 'p'), `${PATH}?app=Detect&cursor=2`));
      send(res, 200, page(records(3, 'p').slice(2), null));
    });
    const s = setup(`${api.url.replace(/\/$/, '')}${suffix}`);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(api.reqs.map((r) => r.url.split('?')[0])).toEqual([`${expected}${PATH}`, `${expected}${PATH}`]);
    expect(api.reqs.every((r) => r.auth && r.headers['x-elastica-dbname-resolved'] === 'True')).toBe(true);
    expect(jsonLines(s.out).length).toBe(3);
  }, 30_000);

  it('an IPv6 literal api_server with a port', async () => {
    const api = await fakeApi((_q, res) => send(res, 200, page(records(2, 'v6'), null)), '::1');
    const s = setup(api.url);
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(2);
  }, 30_000);

  it('a tenant that needs percent-encoding', async () => {
    const api = await fakeApi((_q, res) => send(res, 200, page(records(1, 't'), null)));
    const s = setup(api.url, [], { tenant: 'ac%mé' });
    const res = await run(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(api.reqs[0]!.url.split('?')[0]).toBe('/ac%25m%C3%A9/api/admin/v1/logs/get/');
  }, 30_000);
});

