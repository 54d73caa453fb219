// Review of 52d7583..HEAD (ingest delay, strict timestamps, exponent numbers, proxies, lock
// takeover, check on FILE). Each test says what an experienced SIEM engineer expects and why.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcp } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, describe, expect, it } from 'vitest';
import { idsOf, jsonLines, readLog, runAgent, tmp } from '../helpers/agent.js';
import { fixtures, iso, mk, page } from '../helpers/raw-api.js';
import { parseCef } from '../helpers/parsers.js';

const fx = fixtures();
afterAll(() => fx.closeAll());
const { emulator, rawApi } = fx;


function setup(configFile: (dir: string) => string) {
  const dir = tmp('sa-r4-');
  const config = configFile(dir);
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const base = ['--config', config, '--severity', 'all', '--log_file', log, '--elastica_app', 'detect'];
  return { dir, out, log, config, base, file: [...base, '--format', 'json', '-o', 'FILE', '-f', out], stream: [...base, '-o', 'STREAM', '-s', 'STDOUT'] };
}

/** A pid that is certainly not running any more. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

// ---------------------------------------------------------------------------------------------

// Findings (each fails against HEAD)

describe('timestamps: the strict ISO 8601 reader', () => {
  it('a created_timestamp with a lower-case z (RFC 3339 §5.6 allows it; the agent before this change read it) is delivered, not a run-stopping error', async () => {
    // time.ts ISO/isCanonical accept only 'Z' (and 'T'/' '). Date.parse, which the agent used
    // before, reads "…123z" as UTC; now the log is "no valid created_timestamp": every run stops
    // at it (exit 1), the marker never passes it, and the message does not show the value.
    const t = iso(Date.now() - 86_400_000);
    const api = await rawApi(page(`{"_id":"z1","created_timestamp":"${t.replace('Z', 'z')}","severity":"high","service":"Box"}`));
    const s = setup(api.configFile);
    const res = await runAgent([...s.stream, '--format', 'json', '--dry_run']);
    expect({ code: res.code, stderr: res.stderr.trim() }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(res.stdout.trim())._id).toBe('z1');
  });
});

describe('numbers with an exponent and CEF\'s typed keys', () => {
  it('file_size 1E5, latitude 4.5E1, threat_score 2.0E1 still go to fsize, slat and cn1 (as before the change), not to ad.*', async () => {
    // exact-numbers.ts changes(): any token with an exponent that String(n) does not reproduce
    // ("1E5" vs "100000") is now kept as a marked string; cef.ts's checks (Number.isInteger,
    // finite) then fail and the value leaves its mapped key for ad.file_size=1E5. ArcSight rules
    // and content on fsize/slat/cn1 stop seeing these logs. Before the change the values were
    // 100000, 45 and 20 in fsize, slat and cn1. Java (1.0E5) and Python (1e-05) write exponents.
    const t = iso(Date.now() - 86_400_000);
    const api = await rawApi(page(`{"_id":"e1","created_timestamp":"${t}","severity":"high","service":"Box","file_size":1E5,"latitude":4.5E1,"threat_score":2.0E1}`));
    const s = setup(api.configFile);
    const res = await runAgent([...s.stream, '--format', 'cef', '--dry_run']);
    expect(res.code, res.stderr).toBe(0);
    const ext = parseCef(res.stdout.trim()).extension;
    expect({
      fsize: ext.fsize === undefined ? undefined : Number(ext.fsize),
      slat: ext.slat === undefined ? undefined : Number(ext.slat),
      cn1: ext.cn1 === undefined ? undefined : Number(ext.cn1),
      fsizeIsInteger: /^\d+$/.test(ext.fsize ?? ''),
    }, res.stdout).toEqual({ fsize: 100000, slat: 45, cn1: 20, fsizeIsInteger: true });
  });
});

describe('check on a FILE output', () => {
  it('a path below a regular file (ENOTDIR for the run) is a FAIL, not "writable"', async () => {
    // check.ts fileWritable(): stat(path) fails, so it walks up to the nearest existing
    // *directory*, skipping over the regular file in the way, and access() on that succeeds.
    // The run then fails at once: "output file …: cannot write (ENOTDIR)". check exists to
    // catch exactly this before the cron job does.
    const e = await emulator([mk('a', iso(Date.now() - 3600_000))]);
    const s = setup((d) => e.configFile(d));
    writeFileSync(join(s.dir, 'plain'), 'x');
    const f = join(s.dir, 'plain', 'sub', 'out.json');
    const run = await runAgent([...s.base, '-o', 'FILE', '-f', f, '--format', 'json']);
    expect(run.stderr).toMatch(/ENOTDIR/); // the run cannot write there
    const c = await runAgent(['check', ...s.base, '-o', 'FILE', '-f', f, '--format', 'json']);
    expect({ code: c.code, output: /^(OK  |FAIL) output: .*$/m.exec(c.stdout)?.[0].slice(0, 4) }, c.stdout).toEqual({ code: 1, output: 'FAIL' });
  });
});

describe('proxy values', () => {
  it('--proxy host:80 is not refused as "missing port" (the WHATWG URL drops a default port)', async () => {
    // proxy-url.ts: `!url.port` is also true for http://host:80, whose port the URL parser
    // normalises away; "proxy.corp:80" (a common proxy port) is refused as "missing port
    // (host:port)", and since this change HTTPS_PROXY=proxy.corp:80 too, failing every run.
    const e = await emulator([mk('a', iso(Date.now() - 3600_000))]);
    const s = setup((d) => e.configFile(d));
    for (const env of [{}, { HTTPS_PROXY: '127.0.0.1:80', HTTP_PROXY: '127.0.0.1:80' }]) {
      const args = [...s.file, '--retries', '0', '--request_timeout', '3', ...(Object.keys(env).length ? [] : ['--proxy', '127.0.0.1:80'])];
      const res = await runAgent(args, { env: { ...env, NO_PROXY: '', no_proxy: '' } });
      expect.soft(res.stderr, JSON.stringify(env)).not.toMatch(/missing port/);
    }
  });

  it('-u/-p with no proxy at all (no --proxy, no HTTPS_PROXY/HTTP_PROXY: cron\'s environment) is not silently ignored', async () => {
    // The password is given for nothing and the run goes direct: in cron, which does not carry
    // the login shell's HTTPS_PROXY, the admin who tested by hand sees the cron runs bypass (or
    // fail to pass) the proxy with no word about it. Expected: a one-line error or warning.
    const e = await emulator([mk('a', iso(Date.now() - 3600_000))]);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.file, '-u', 'bob', '-p', 'hunter2'], { env: { HTTPS_PROXY: '', HTTP_PROXY: '', https_proxy: '', http_proxy: '' } });
    expect(`${res.stderr}\n${readLog(s.log)}`).toMatch(/proxy/i);
  });
});

describe('proxy auth from -u with env proxies', () => {
  it('-u with HTTPS_PROXY and no password sends Proxy-Authorization as it does with --proxy', async () => {
    // http.ts envProxy() puts -u/-p into the URL; undici's ProxyAgent sends Basic only when the
    // URL has a user *and* a password, so -u alone (an empty password) sends nothing, while
    // --proxy sends `user:` (token built in http.ts). README: -u/-p apply to env proxies.
    const heads: string[] = [];
    const proxy = createTcp((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += String(d);
        if (buf.includes('\r\n\r\n')) {
          heads.push(buf);
          sock.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    fx.track({ close: () => new Promise<void>((r) => proxy.close(() => r())) });
    const port = (proxy.address() as { port: number }).port;
    const e = await emulator([mk('a', iso(Date.now() - 3600_000))]);
    const s = setup((d) => e.configFile(d));
    const env = { HTTP_PROXY: `127.0.0.1:${port}`, HTTPS_PROXY: `127.0.0.1:${port}`, NO_PROXY: '', no_proxy: '', SIEM_AGENT_PROXY_PASSWORD: '' };
    await runAgent([...s.file, '--retries', '0', '-u', 'bob', '--proxy', `127.0.0.1:${port}`], { env });
    const viaFlag = heads.splice(0).some((h) => /^proxy-authorization: Basic /im.test(h));
    await runAgent([...s.file, '--retries', '0', '-u', 'bob'], { env });
    const viaEnv = heads.splice(0).some((h) => /^proxy-authorization: Basic /im.test(h));
    expect({ viaFlag, viaEnv }).toEqual({ viaFlag: true, viaEnv: true });
  });
});

describe('the lock of a dead holder', () => {
  it('is not taken from a live run that has just taken it over and not yet written its status', async () => {
    // run.ts: a run that finds the lock fresh reads last_job.status; if it says "running" with a
    // dead pid it deletes the lock and takes it. After a crash, the *next* run (L) takes the lock
    // (stale, or itself via this takeover) and writes its own status a few ms later; a run (N)
    // starting in that window still reads the dead run's status, deletes L's live lock and runs
    // alongside L: both deliver the same page (the comment "the previous run's status speaks for
    // it" is wrong exactly when the previous run died). Here a stand-in is L in that window.
    const e = await emulator([mk('a', iso(Date.now() - 3600_000)), mk('b', iso(Date.now() - 3500_000))]);
    const s = setup((d) => e.configFile(d));
    writeFileSync(join(s.dir, 'last_job.status'), JSON.stringify({
      version: '1.0.0', pid: deadPid(), host: hostname(), run_id: 'x', argv: [], started_at: new Date(Date.now() - 60_000).toISOString(), result: 'running', apps: {},
    }));
    let compromised = false;
    const release = await lockfile.lock(s.dir, {
      lockfilePath: join(s.dir, 'export_log.lock'), realpath: false, stale: 30_000, update: 5_000, retries: 0,
      onCompromised: () => { compromised = true; },
    });
    try {
      const res = await runAgent(s.file);
      expect(res.code).toBe(0);
      expect({ delivered: jsonLines(s.out).length, lockTakenFromLiveHolder: compromised || !existsSync(join(s.dir, 'export_log.lock')) }, readLog(s.log))
        .toEqual({ delivered: 0, lockTakenFromLiveHolder: false });
    } finally {
      await release().catch(() => undefined);
    }
  });
});

describe('--ingest_delay and the host clock', () => {
  it('logs the API dates hours after this host\'s clock (a clock behind) are not held back without a word', async () => {
    // pager.ts leaves every log created after `started - delay` (host clock) for a later run. A
    // host clock 3 h slow holds each log back 3 h: every run exits 0, "delivered 0" for the new
    // ones, status OK (lag is measured on the same slow clock). The agent sees the evidence (a
    // log created after its own now) and could say so once per run.
    const e = await emulator([mk('a', iso(Date.now() - 3600_000)), mk('f', iso(Date.now() + 3 * 3600_000))]);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent(s.file);
    expect(res.code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a']);
    expect(`${res.stderr}\n${readLog(s.log)}`).toMatch(/clock|in the future|ahead/i);
  });
});

// ---------------------------------------------------------------------------------------------
// New behaviour, passing

describe('--ingest_delay: cutoffs', () => {
  it('a first page whose logs are all newer than the cutoff: exit 0, nothing delivered, no marker; a later run delivers them once', async () => {
    const now = Date.now();
    const e = await emulator([mk('n1', iso(now - 1000)), mk('n2', iso(now - 500))]);
    const s = setup((d) => e.configFile(d));
    const args = [...s.file, '--ingest_delay', '4'];
    const first = await runAgent(args);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonLines(s.out)).toEqual([]);
    expect(readLog(s.log)).toMatch(/Detect: delivered 0, .*marker none/);
    await new Promise((r) => setTimeout(r, Math.max(0, now + 4000 - Date.now())));
    expect((await runAgent(args)).code).toBe(0);
    expect((await runAgent(args)).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['n1', 'n2']);
  }, 20_000);

  it('page 1 old, page 2 newer than the cutoff: the chain ends cleanly at the cutoff, marker at the last old log', async () => {
    const now = Date.now();
    const old = [1, 2, 3].map((i) => mk(`o${i}`, iso(now - 3600_000 + i * 1000)));
    const fresh = [1, 2, 3].map((i) => mk(`f${i}`, iso(now - 1000 + i * 100)));
    const e = await emulator([...old, ...fresh]);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.file, '--ingest_delay', '60', '--page_size', '2']);
    expect(res.code, res.stderr).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['o1', 'o2', 'o3']);
    expect(readLog(s.log)).toMatch(new RegExp(`marker ${old[2]!.created_timestamp}`));
  });

  it('--dry_run -r holds the newest logs back too (what a dry run shows is what a run would send)', async () => {
    const now = Date.now();
    const e = await emulator([mk('o', iso(now - 3600_000)), mk('n', iso(now - 1000))]);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.stream, '--format', 'json', '--dry_run', '-r', '--ingest_delay', '60']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { _id: string })._id)).toEqual(['o']);
  });
});

describe('timestamps accepted', () => {
  it('+00:00 with microseconds: rt in ms, ad.created_timestamp as sent', async () => {
    const t = iso(Date.now() - 86_400_000);
    const sent = `${t.slice(0, 23)}456+00:00`;
    const api = await rawApi(page(`{"_id":"m1","created_timestamp":"${sent}","severity":"high","service":"Box"}`));
    const s = setup(api.configFile);
    const res = await runAgent([...s.stream, '--format', 'cef', '--dry_run']);
    expect(res.code, res.stderr).toBe(0);
    const ext = parseCef(res.stdout.trim()).extension;
    expect({ rt: ext.rt, ad: ext['ad.created_timestamp'] }).toEqual({ rt: String(Date.parse(t)), ad: sent });
  });
});
