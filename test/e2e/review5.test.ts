// Review of the fourth audit's change (987d7b9..4a80a26). Each test states the behaviour expected
// and fails while the agent does otherwise: a failing test here is a finding of the review.
// Real processes: bin/siem-agent as a child, the project's emulator, a small HTTP front standing in
// for a proxy or load balancer between them. Some tests need root (a user r5-agent is created and
// removed in afterAll).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, request as httpRequest, type Server as HttpServer } from 'node:http';
import { createServer as createNet, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/types.js';
import type { Emulator } from '../../src/emulator/server.js';
import { BIN, countIds, idsOf, jsonLines, runAgent, stateOf, tmp, runCommand as run } from '../helpers/agent.js';
import { fixtures, iso, mk } from '../helpers/raw-api.js';

const fx = fixtures();
afterEach(() => fx.closeAll());

const DAY = 86_400_000;
const RETENTION = 180 * DAY;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canUsers = isRoot && has('runuser') && has('useradd');

const AGENT = 'r5-agent';
const uid = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
const gid = (u: string) => Number(execFileSync('id', ['-g', u], { encoding: 'utf8' }).trim());
beforeAll(() => {
  if (!canUsers) return;
  spawnSync('userdel', [AGENT], { stdio: 'ignore' });
  execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', AGENT]);
});
const started: { close: () => void }[] = [];
afterAll(async () => {
  for (const s of started.splice(0)) s.close();
  await fx.closeAll();
  if (canUsers) {
    spawnSync('userdel', [AGENT], { stdio: 'ignore' });
    spawnSync('groupdel', [AGENT], { stdio: 'ignore' });
  }
});


const writeMarker = (dir: string, timestamp: string) =>
  writeFileSync(join(dir, 'export_log.state'), JSON.stringify({ format: 'siem-agent-state', version: 1, apps: { Detect: { timestamp, ids: [] } } }));

/**
 * An HTTP front between the agent and the emulator (a proxy or load balancer): passes every
 * request on, and lets a test answer one itself or replace the Date header of the answers.
 */
async function front(emu: Emulator, hook: (n: number) => { status?: number; body?: string; date?: string } | undefined) {
  let n = 0;
  const upstream = new URL(emu.url);
  const server: HttpServer = createHttp((req, res) => {
    const h = (req.url ?? '').includes('/logs/get/') ? hook(++n) : undefined;
    if (h?.status !== undefined) {
      const body = h.body ?? '';
      res.sendDate = false;
      res.writeHead(h.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(h.date ? { date: h.date } : {}) });
      res.end(body);
      return;
    }
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      const headers = { ...ur.headers };
      if (h?.date) headers.date = h.date;
      res.sendDate = false;
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fx.track({ close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

async function detectSetup(detect: LogRecord[], extra: string[] = []) {
  const emu = await fx.emulator(detect);
  const dir = tmp('sa-r5-');
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const args = (config: string) => ['--config', config, '--elastica_app', 'detect', '--severity', 'all', '--format', 'json', '-o', 'FILE', '-f', out, '--log_file', log, ...extra];
  return { emu, dir, out, log, args };
}

describe('the retention clamp (pager.ts outOfRetention, run.ts onClamp)', () => {
  it('a transient 400 on the first page (a load balancer) does not move a marker that is inside the retention: the logs the API serves are not skipped', async () => {
    const t = Date.now();
    const edge = t - RETENTION;
    const s = await detectSetup([mk('r1', iso(edge + 4 * 60_000)), mk('r2', iso(edge + 7 * 60_000)), mk('r3', iso(t - 3_600_000))]);
    const cfg = s.emu.configFile(s.dir);
    // README: "A stored marker ... at least a minute inside the retention is used as it is"
    writeMarker(s.dir, iso(edge + 3 * 60_000));
    s.emu.setFaults([{ type: 'http400', count: 1 }]); // {"error":"bad query parameter"}, the emulator's own (right) Date
    const first = await runAgent(s.args(cfg));
    const second = await runAgent(s.args(cfg));
    // what happens: the 400 (not a retention refusal at all) is taken for one, the marker is moved
    // to the API's now - 180 d + 10 min and committed, the query is sent again and succeeds: r1 and
    // r2, which the API still serves, are skipped for good; the log blames this host's clock
    expect(second.code, second.stderr).toBe(0);
    expect(idsOf(jsonLines(s.out)), `first run exit ${first.code}: ${first.stderr.slice(0, 400)}`).toEqual(['r1', 'r2', 'r3']);
  });

  it('a 400 whose Date header is far in the future (a proxy\'s own error page, a server with a wrong clock) does not put the marker in the future', async () => {
    const t = Date.now();
    const s = await detectSetup([mk('f1', iso(t - 2 * 3_600_000)), mk('f2', iso(t - 3_600_000))]);
    const future = new Date(t + 400 * DAY).toUTCString();
    const url = await front(s.emu, (n) => (n === 1 ? { status: 400, body: '{"error":"request blocked by policy"}', date: future } : undefined));
    const cfg = s.emu.configFile(s.dir, { api_server: url });
    writeMarker(s.dir, iso(t - 3 * 3_600_000));
    const first = await runAgent(s.args(cfg));
    const second = await runAgent(s.args(cfg));
    const marker = stateOf(s.dir)?.apps.Detect?.timestamp ?? '';
    // what happens: the marker is committed at (Date - 180 d + 10 min), 220 days ahead, before the
    // query is sent again; f1 and f2 are never delivered, nor any log of the next 220 days; every
    // later run exits 0 with "delivered 0", and `status` shows lag 0 (status.ts clamps a negative lag)
    expect(Date.parse(marker), `marker ${marker}; first run: exit ${first.code} ${first.stderr.slice(0, 300)}`).toBeLessThanOrEqual(Date.now());
    expect(second.code, second.stderr).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['f1', 'f2']);
  });
});

describe('the --ingest_delay cutoff by the Date header (pager.ts until)', () => {
  it('a Date header stuck in the past (a server or proxy without a real-time clock): the run does not report success while delivering nothing, run after run', async () => {
    const t = Date.now();
    const s = await detectSetup([mk('p1', iso(t - 2 * 3_600_000)), mk('p2', iso(t - 3_600_000))]);
    const url = await front(s.emu, () => ({ date: 'Thu, 01 Jan 1970 00:00:10 GMT' }));
    const cfg = s.emu.configFile(s.dir, { api_server: url });
    const runs = [await runAgent(s.args(cfg)), await runAgent(s.args(cfg))];
    const status = await runAgent(['status', '--config', cfg]);
    const ids = idsOf(jsonLines(s.out));
    // what happens: every run exits 0 with "delivered 0", last_job.status "ok", `status` exit 0;
    // the only sign is a warning that this host's clock is "ahead" of the API's by 56 years
    // ("set the clock right (NTP)": the host's clock is right)
    const failedLoudly = runs.every((r) => r.code !== 0) || status.code !== 0;
    expect(ids.length === 2 || failedLoudly, `delivered ${JSON.stringify(ids)}; exits ${runs.map((r) => r.code).join(',')}, status ${status.code}; ${runs[1]!.stderr.slice(0, 300)}`).toBe(true);
  });
});

describe('the Date header read as HTTP defines it (client.ts serverTime)', () => {
  it('an asctime Date (RFC 9110: recipients MUST accept it, and it is UTC) on a host east of UTC does not hold back the last hours of logs', async () => {
    const t = Date.now();
    const s = await detectSetup([mk('z1', iso(t - 2 * 3_600_000)), mk('z2', iso(t - 3_600_000))]);
    const asctime = () => {
      const d = new Date();
      const [wd, mon] = [d.toUTCString().slice(0, 3), d.toUTCString().slice(8, 11)];
      const p2 = (n: number) => String(n).padStart(2, '0');
      return `${wd} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
    };
    const url = await front(s.emu, () => ({ date: asctime() }));
    const cfg = s.emu.configFile(s.dir, { api_server: url });
    const res = await runAgent(s.args(cfg), { env: { TZ: 'Asia/Tokyo' } });
    // what happens: Date.parse reads asctime as local time, 9 h early: the cutoff is 9 h back, both
    // logs wait, and the run warns that this host's clock is 9 h ahead of the API's
    expect(res.code, res.stderr).toBe(0);
    expect(idsOf(jsonLines(s.out)), res.stderr.slice(0, 300)).toEqual(['z1', 'z2']);
  });
});

describe('FILE output renamed during a run (file.ts confirm, rotate)', () => {
  it('--max_bytes rotation after an external rename (logrotate create) does not overwrite the renamed file that holds delivered lines', async () => {
    const t = Date.now();
    const pad = 'x'.repeat(150);
    const recs = Array.from({ length: 20 }, (_, i) => mk(`m${String(i).padStart(2, '0')}`, iso(t - 3_600_000 + i * 1000), { pad }));
    const lineLen = Buffer.byteLength(JSON.stringify(recs[0])) + 1;
    // one rotation in the run: page 1 (10 lines) fits, page 2 rotates after 4 of its lines
    const maxBytes = 14 * lineLen + 5;
    const s = await detectSetup(recs, ['--page_size', '10', '--max_bytes', String(maxBytes), '--backup_count', '1']);
    const args = s.args(s.emu.configFile(s.dir));
    s.emu.setLatency(700);
    const child = run(BIN, args);
    for (let i = 0; i < 400 && !(existsSync(s.out) && statSync(s.out).size >= 10 * lineLen); i++) await sleep(10);
    await sleep(150); // page 1 confirmed; page 2 arrives ~700 ms after page 1
    // logrotate (rotate 1, create): PATH -> PATH.1, a new empty PATH
    renameSync(s.out, `${s.out}.1`);
    writeFileSync(s.out, '', { mode: 0o640 });
    const res = await child;
    expect(res.code, res.stderr).toBe(0);
    const ids = [...idsOf(jsonLines(`${s.out}.1`)), ...idsOf(jsonLines(s.out))];
    // what happens: the agent's rotation renames logrotate's new (empty) PATH over PATH.1, the
    // renamed file holding page 1 and 4 lines of page 2; those 14 lines, confirmed, are gone
    expect([...new Set(ids)].sort(), `in ${s.out}*: ${ids.join(',')}`).toEqual(recs.map((r) => r._id).sort());
  });

  it.skipIf(!canUsers)('a page in a renamed file is counted even when the new PATH cannot be opened: the next run does not write it again', async () => {
    const t = Date.now();
    const recs = Array.from({ length: 30 }, (_, i) => mk(`n${String(i).padStart(2, '0')}`, iso(t - 3_600_000 + i * 1000)));
    const emu = await fx.emulator(recs);
    emu.setLatency(700);
    // the service user's state, and an output file in a directory it cannot create files in (root's,
    // 0755): the file made by the admin and given to the user
    const state = tmp('sa-r5-state-');
    chownSync(state, uid(AGENT), gid(AGENT));
    chmodSync(state, 0o755);
    const cfg = emu.configFile(state);
    chownSync(cfg, uid(AGENT), gid(AGENT));
    const outDir = tmp('sa-r5-out-');
    chmodSync(outDir, 0o755);
    const out = join(outDir, 'events.json');
    writeFileSync(out, '', { mode: 0o640 });
    chownSync(out, uid(AGENT), gid(AGENT));
    const args = ['-u', AGENT, '--', BIN, '--config', cfg, '--elastica_app', 'detect', '--severity', 'all', '--format', 'json', '-o', 'FILE', '-f', out, '--log_file', join(state, 'agent.log'), '--page_size', '10'];
    const first = run('runuser', args);
    for (let i = 0; i < 400 && !(statSync(out).size > 0); i++) await sleep(10);
    renameSync(out, `${out}.1`); // logrotate with nocreate (or before its create step)
    const r1 = await first;
    // the admin puts the file back; the next run
    writeFileSync(out, '', { mode: 0o640 });
    chownSync(out, uid(AGENT), gid(AGENT));
    emu.setLatency(0);
    const r2 = await run('runuser', args);
    expect(r2.code, r2.stderr).toBe(0);
    const all = [...idsOf(jsonLines(`${out}.1`)), ...idsOf(jsonLines(out))];
    const twice = [...countIds(all)].filter(([, n]) => n > 1).map(([id]) => id);
    // what happens: confirm sees the rename, but the reopen of PATH fails (EACCES: the user cannot
    // create files there) and the page, fsynced in the renamed file, is not counted: the run fails
    // and the next run writes the same page again
    expect(twice, `first run exit ${r1.code}: ${r1.stderr.slice(0, 300)}`).toEqual([]);
    expect(new Set(all).size).toBe(30);
  });
});

describe.skipIf(!isRoot)('symbolic links a root run must not write through (links.ts, file.ts openAppend)', () => {
  /** A root-only file standing in for /etc/shadow. */
  function victim() {
    const d = tmp('sa-r5-root-');
    const file = join(d, 'victim');
    writeFileSync(file, 'root-only\n', { mode: 0o600 });
    return { d, file };
  }
  /** A directory the service user owns (as /var/log/siem-agent is). */
  function userDir() {
    const d = tmp('sa-r5-user-');
    chmodSync(d, 0o755);
    chownSync(d, 4242, 4242);
    return d;
  }

  it('an admin\'s (root\'s) link to a file in the service user\'s directory is not followed on through a link the service user put there', async () => {
    const v = victim();
    const s = await detectSetup([mk('l1', iso(Date.now() - 3_600_000))]);
    const cfg = s.emu.configFile(s.dir);
    const ud = userDir();
    // the admin: current.json -> <user dir>/cloudsoc.json (root's link, trusted by links.ts)
    const adminLink = join(s.dir, 'current.json');
    symlinkSync(join(ud, 'cloudsoc.json'), adminLink);
    // the service user replaces its own file with a link to the victim
    symlinkSync(v.file, join(ud, 'cloudsoc.json'));
    lchownSync(join(ud, 'cloudsoc.json'), 4242, 4242);
    const res = await runAgent(s.args(cfg).map((a) => (a === s.out ? adminLink : a)));
    // what happens: linkProblem looks at the first link only (root's), then open() follows the
    // whole chain: the root run appends a log line to the root-only file
    expect(readFileSync(v.file, 'utf8'), `exit ${res.code}`).toBe('root-only\n');
  });

  it('the same chain on --log_file (log.ts linkProblemSync): the agent\'s log is not appended to a root-only file', async () => {
    const v = victim();
    const s = await detectSetup([mk('l3', iso(Date.now() - 3_600_000))]);
    const cfg = s.emu.configFile(s.dir);
    const ud = userDir();
    const adminLink = join(s.dir, 'agent-log');
    symlinkSync(join(ud, 'siem_agent.log'), adminLink);
    symlinkSync(v.file, join(ud, 'siem_agent.log'));
    lchownSync(join(ud, 'siem_agent.log'), 4242, 4242);
    const res = await runAgent(s.args(cfg).map((a) => (a === s.log ? adminLink : a)));
    expect(readFileSync(v.file, 'utf8'), `exit ${res.code}`).toBe('root-only\n');
  });

  it('a directory on the FILE path that the service user replaced with a link is not followed by a root run', async () => {
    const v = victim();
    const s = await detectSetup([mk('l2', iso(Date.now() - 3_600_000))]);
    const cfg = s.emu.configFile(s.dir);
    const ud = userDir();
    // -f <user dir>/cef/out.json; the service user makes `cef` a link to a root-only directory
    const sub = join(ud, 'cef');
    symlinkSync(v.d, sub);
    lchownSync(sub, 4242, 4242);
    const target = join(sub, 'out.json');
    const res = await runAgent(s.args(cfg).map((a) => (a === s.out ? target : a)));
    // what happens: O_NOFOLLOW covers the last name only: root creates <root-only dir>/out.json
    expect(existsSync(join(v.d, 'out.json')), `exit ${res.code}: ${res.stderr.slice(0, 200)}`).toBe(false);
  });
});

describe('-p masked in the process title (redact.ts maskedArgs)', () => {
  it('-dp PASSWORD (commander: -d and -p, clustered; flags.ts redactArgv masks it): no other user reads the password in /proc/PID/cmdline', async () => {
    const pw = 'Pw-r5-clustered-never-in-ps';
    const proxy: NetServer = createNet(() => undefined); // accepts, never answers
    started.push(proxy);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    const s = await detectSetup([mk('p1', iso(Date.now() - 3_600_000))]);
    const cfg = s.emu.configFile(s.dir);
    const c = spawn(BIN, [...s.args(cfg), '--proxy', `127.0.0.1:${port}`, '-u', 'agent', '-dp', pw, '--request_timeout', '5', '--retries', '0'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(join(s.dir, 'last_job.status')); i++) await sleep(100);
      expect(existsSync(join(s.dir, 'last_job.status'))).toBe(true);
      const seen = readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0').join(' ');
      expect(seen.includes(pw), `cmdline: ${seen.slice(-200)}`).toBe(false);
    } finally {
      c.kill('SIGKILL');
    }
  });
});
