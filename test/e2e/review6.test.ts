// Review 6 of the fourth audit's change and the fixes of its review (f5b7528~1..HEAD, src/).
// Each test states the behaviour expected and fails while the agent does otherwise: a failing test
// here is a finding. Real processes (bin/siem-agent as a child, the project's emulator, a small
// HTTP front between them); the formatters are tested as units where a process adds nothing.
// Some tests need root: users r6-agent and r6-other are created and removed in afterAll.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/types.js';
import { formatCef } from '../../src/format/cef.js';
import { formatLeef } from '../../src/format/leef.js';
import { BIN, idsOf, jsonLines, tmp, runCommand as run } from '../helpers/agent.js';
import { fixtures, iso, mk } from '../helpers/raw-api.js';
import { skewedEnv } from '../helpers/clock.js';

const fx = fixtures();
afterEach(() => fx.closeAll());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canUsers = isRoot && has('runuser') && has('useradd');

const AGENT = 'r6-agent';
const OTHER = 'r6-other';
const uid = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
const gid = (u: string) => Number(execFileSync('id', ['-g', u], { encoding: 'utf8' }).trim());
const removeUsers = () => {
  for (const u of [AGENT, OTHER]) {
    spawnSync('userdel', [u], { stdio: 'ignore' });
    spawnSync('groupdel', [u], { stdio: 'ignore' });
  }
};
beforeAll(() => {
  if (!canUsers) return;
  removeUsers(); // left over by an interrupted run of this file
  for (const u of [AGENT, OTHER]) execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', u]);
});
const children = new Set<number>();
afterAll(async () => {
  for (const pid of children) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await fx.closeAll();
  if (canUsers) removeUsers();
});

const agent = (args: string[], env: NodeJS.ProcessEnv = {}) => run(BIN, args, env);
const asUser = (user: string, cmd: string, args: string[]) => run('runuser', ['-u', user, '--', cmd, ...args]);

/** A scratch directory others can traverse (tmp() makes them 0700), owned by `owner` if given. */
function dir(owner?: string): string {
  const d = tmp('sa-r6-');
  chmodSync(d, 0o755);
  if (owner) chownSync(d, uid(owner), gid(owner));
  return d;
}



/**
 * An HTTP front between the agent and the emulator (a proxy or load balancer). `before(n)` runs
 * before the n-th logs request is passed on; with exactDate the answer's Date header is the true
 * whole second of the moment the API answered (what RFC 9110 says a server sends).
 */
async function front(upstreamUrl: string, o: { before?: (n: number) => Promise<void> | void; exactDate?: boolean }): Promise<string> {
  let n = 0;
  const upstream = new URL(upstreamUrl);
  const server: Server = createHttp((req, res) => {
    const logs = (req.url ?? '').includes('/logs/get/');
    const k = logs ? ++n : 0;
    void (async () => {
      if (logs && o.before) await o.before(k);
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        const headers = { ...ur.headers };
        if (o.exactDate) headers.date = new Date(Math.floor(Date.now() / 1000) * 1000).toUTCString();
        res.sendDate = false;
        res.writeHead(ur.statusCode ?? 502, headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(); // GETs only
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fx.track({ close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

const detectArgs = (config: string, out: string, log: string, extra: string[] = []) =>
  ['--config', config, '--elastica_app', 'detect', '--severity', 'all', '--format', 'json', '-o', 'FILE', '-f', out, '--log_file', log, ...extra];

const many = (n: number, prefix: string): LogRecord[] => {
  const t = Date.now() - 3_600_000;
  return Array.from({ length: n }, (_, i) => mk(`${prefix}${String(i).padStart(4, '0')}`, iso(t + i * 1000)));
};

describe('--ingest_delay cut off by the API\'s Date header (pager.ts)', () => {
  it('a host clock ahead of the API\'s: a log inserted within --ingest_delay of its creation is not skipped (the Date header is the whole second the API answered in, not up to 999 ms later)', async () => {
    // S: a whole second ~3 s from now. The API answers the first page at S+50 ms (Date: S).
    // c: created S-300, inserted S+600 (900 ms later, inside --ingest_delay 1): not shown at S+50.
    // d: created S-200, inserted at S: shown. A cutoff of "API time - 1 s" holds both back; the
    // pager's cutoff is Date + 999 - 1000 = S-1, which lets d through and the marker past c.
    const S = Math.ceil(Date.now() / 1000) * 1000 + 3000;
    const rec = (id: string, created: number, inserted: number): LogRecord => ({ ...mk(id, iso(created)), inserted_timestamp: iso(inserted) });
    const emu = await fx.emulator([rec('old', S - 60_000, S - 59_000), rec('c', S - 300, S + 600), rec('d', S - 200, S)]);
    const api = await front(emu.url, {
      exactDate: true,
      before: async (n) => { if (n === 1) await sleep(Math.max(0, S + 50 - Date.now())); },
    });
    const d = dir();
    const cfg = emu.configFile(d, { api_server: api });
    const out = join(d, 'out.json');
    const args = detectArgs(cfg, out, join(d, 'agent.log'), ['--ingest_delay', '1']);
    const clk = skewedEnv(5 * 60_000); // this host's clock 5 min ahead: the API's Date sets the cutoff
    const first = await agent(args, clk);
    expect(first.code, first.stderr).toBe(0);
    await sleep(Math.max(0, S + 1500 - Date.now()));
    const second = await agent(args, clk);
    expect(second.code, second.stderr).toBe(0);
    // what happens: the first run delivers old and d (marker S-200); c, shown 550 ms later, is
    // before the marker: never delivered, exit 0 both times
    expect(idsOf(jsonLines(out)).sort()).toEqual(['c', 'd', 'old']);
  }, 30_000);
});

describe.skipIf(!canUsers)('FILE output renamed from outside during a root run (output/file.ts followRename)', () => {
  it('the PATH the run creates after an outside rename (mv, logrotate nocreate) keeps the owner, group and mode the file had, as --max_bytes rotation does: the service user\'s next run can still append', async () => {
    const emu = await fx.emulator(many(80, 'm'));
    const base = dir(AGENT); // /var/log/siem-agent: the service user's
    const out = join(base, 'events.json');
    writeFileSync(out, '');
    chownSync(out, uid(AGENT), gid(AGENT));
    chmodSync(out, 0o644); // readable by a forwarder running as another user
    // renamed away when the third page is asked for (pages 1-2 are written by then, or about to be)
    const api = await front(emu.url, { before: (n) => { if (n === 3) renameSync(out, `${out}.1`); } });
    const rootDir = dir();
    const cfg = emu.configFile(rootDir, { api_server: api });
    const first = await agent(detectArgs(cfg, out, join(rootDir, 'agent.log'), ['--page_size', '20']));
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(`${out}.1`)).toBe(true);
    const st = statSync(out);
    // the service user's own cron run, with its own state: it opens the same output file
    const agentDir = dir(AGENT);
    const agentCfg = emu.configFile(agentDir, { api_server: api });
    chownSync(agentCfg, uid(AGENT), gid(AGENT));
    const second = await asUser(AGENT, BIN, detectArgs(agentCfg, out, join(agentDir, 'agent.log'), ['--max_logs', '5']));
    // what happens: events.json is now root:root 0640 (created by the root run's reopen); the
    // forwarder can no longer read it and every cron run of the service user fails with EACCES
    expect({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: uid(AGENT), gid: gid(AGENT), mode: '644' });
    expect(second.code, second.stderr).toBe(0);
  }, 30_000);
});

describe('links.ts trustedPath: the path the agent writes is the one every other program reads', () => {
  it('`..` after a symbolic link (-f DIR/link/../events.json) is resolved as the kernel does, from the link\'s target, not lexically', async () => {
    const emu = await fx.emulator(many(3, 'p'));
    const d = dir();
    mkdirSync(join(d, 'data/siem'), { recursive: true });
    symlinkSync('data/siem', join(d, 'current')); // an admin's own link (this user's: trusted)
    const out = `${d}/current/../events.json`; // the kernel: DIR/data/events.json (not join(): it is lexical too)
    const res = await agent(detectArgs(emu.configFile(d), out, join(d, 'agent.log')));
    expect(res.code, res.stderr).toBe(0);
    // what happens: the lines go to DIR/events.json (path.resolve drops `current/..` before any
    // link is read); `tail -F DIR/current/../events.json`, a forwarder, `cat` read DIR/data/events.json
    expect(idsOf(jsonLines(out)), `written instead to ${readdirSync(d).join(', ')}`).toEqual(['p0000', 'p0001', 'p0002']);
  }, 30_000);

  // Decided: paths are strings here (argv, the config are UTF-8), so such a link cannot be
  // resolved and written back; the run refuses it in one line instead of writing elsewhere.
  it('a link whose target is not UTF-8 (a Latin-1 directory name) is refused in one line, and nothing is written to a new file named with U+FFFD', async () => {
    const emu = await fx.emulator(many(3, 'q'));
    const d = dir();
    const realDir = Buffer.concat([Buffer.from(`${d}/caf`), Buffer.from([0xe9])]); // "café" in Latin-1
    mkdirSync(realDir);
    const realFile = Buffer.concat([realDir, Buffer.from('/events.json')]);
    writeFileSync(realFile, ''); // the file a forwarder monitors
    const out = join(d, 'events.json');
    symlinkSync(realFile, out); // an admin's link (this user's: trusted)
    const res = await agent(detectArgs(emu.configFile(d), out, join(d, 'agent.log')));
    // found: readlink(…, 'utf8') turned 0xE9 into U+FFFD and the run created DIR/caf\uFFFD/events.json,
    // exit 0, the monitored file empty
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is a symbolic link to a name that is not UTF-8/);
    // the real directory is caf\xe9 (Latin-1); a name holding U+FFFD's UTF-8 bytes would be the agent's
    expect(readdirSync(d, { encoding: 'buffer' }).filter((n) => n.includes(Buffer.from('\ufffd'))).map(String)).toEqual([]);
  }, 30_000);
});

describe('bundle and check agree with the run about links (commands/bundle.ts, commands/check.ts)', () => {
  it('bundle includes the rotated agent logs when --log_file is an administrator\'s link to a file elsewhere (log.ts rotates beside the link\'s target)', async () => {
    const emu = await fx.emulator(many(2, 'b'));
    const d = dir();
    mkdirSync(join(d, 'data'));
    mkdirSync(join(d, 'logs'));
    const target = join(d, 'data/siem_agent.log');
    const log = join(d, 'logs/siem_agent.log');
    symlinkSync(target, log);
    // a log at rotating-file-stream's limit (10M): the next run rotates it first
    const old = '2026-01-02 03:04:05,678-siem-agent-INFO-a line of an older run, now in a rotated file\n';
    writeFileSync(target, old.repeat(Math.ceil((10.2 * 1024 * 1024) / old.length)));
    const res = await agent(detectArgs(emu.configFile(d), join(d, 'out.json'), log));
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(`${target}.1`), 'the run rotated its log beside the link\'s target').toBe(true);
    const bundleFile = join(d, 'bundle.tar.gz');
    const b = await agent(['bundle', '--config', join(d, 'config.json'), '--log_file', log, '--out_file', bundleFile]);
    expect(b.code, b.stderr).toBe(0);
    const bundled = execFileSync('tar', ['-xzOf', bundleFile, 'siem-agent-bundle/siem_agent.log'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    // what happens: bundle reads logs/siem_agent.log.1 .. .5 (beside the link), which do not
    // exist; the rotated lines in data/siem_agent.log.1 are not in the bundle
    expect(bundled.includes('a line of an older run')).toBe(true);
  }, 30_000);

  it.skipIf(!canUsers)('bundle --out_file run as root does not write the tarball through a link the service user planted', async () => {
    const d = dir(AGENT); // the service user's directory (/var/log/siem-agent)
    const victimDir = tmp('sa-r6-root-'); // 0700, root's
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, 'root-only content\n', { mode: 0o600 });
    const out = join(d, 'support.tar.gz');
    expect((await asUser(AGENT, 'ln', ['-s', victim, out])).code).toBe(0);
    const cfgDir = dir();
    writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ api_server: 'http://127.0.0.1:9/', tenant: 'acme', key_id: 'k', key_secret: 's' }), { mode: 0o600 });
    await agent(['bundle', '--config', join(cfgDir, 'config.json'), '--log_file', join(cfgDir, 'agent.log'), '--out_file', out]);
    // what happens: `tar -czf` follows the link and root overwrites the root-only file with the
    // bundle (for /etc/shadow: nobody can log in); links.ts guards what bundle reads, not what it writes
    expect(readFileSync(victim, 'utf8')).toBe('root-only content\n');
  }, 30_000);

  it.skipIf(!canUsers)('check says FAIL for a FILE output path the run will refuse (a link owned by neither root nor this user)', async () => {
    const emu = await fx.emulator(many(2, 'k'));
    const d = dir();
    const elsewhere = join(d, 'elsewhere.json');
    writeFileSync(elsewhere, '');
    const out = join(d, 'events.json');
    symlinkSync(elsewhere, out);
    lchownSync(out, uid(OTHER), gid(OTHER)); // made by another user (a forwarder's account)
    const cfg = emu.configFile(d);
    const args = detectArgs(cfg, out, join(d, 'agent.log'));
    const runRes = await agent(args);
    expect(runRes.code, 'the run refuses the link').not.toBe(0);
    expect(runRes.stderr).toMatch(/not followed/);
    const check = await agent(['check', ...args]);
    // what happens: check probes with stat/access (which follow the link) and prints
    // "OK   output: FILE … writable", exit 0, while every run fails on that path
    expect(check.stdout).toMatch(/FAIL output/);
    expect(check.code).toBe(1);
  }, 30_000);
});

describe('header fields within --max_message_size (format/leef.ts, format/cef.ts)', () => {
  const base = { _id: '5f1c0000000000000000abcd', created_timestamp: '2026-11-20T10:00:00.000Z', severity: 'high', service: 'Box' };
  it('LEEF: a CJK activity_type (the Event ID) does not take the event past --max_message_size (CEF caps its header fields at a quarter of it; LEEF does not)', () => {
    const rec = { ...base, activity_type: '共有リンクの作成'.repeat(20), message: 'm' } as LogRecord;
    const line = formatLeef(rec, { app: 'Detect', version: '1.0.0', maxBytes: 512 });
    // what happens: 599 bytes: the Event ID is 128 characters of 3 bytes each and only the
    // attributes are shortened
    expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(512);
  });

  it('CEF: header fields full of backslashes (UNC paths) stay within a quarter of --max_message_size once escaped', () => {
    const unc = '\\\\fs01\\share\\finance\\q4\\'.repeat(15);
    const rec = { ...base, activity_type: unc, name: unc, message: 'm' } as LogRecord;
    const line = formatCef(rec, { app: 'Detect', version: '1.0.0', maxBytes: 512 });
    // what happens: headerFit cuts each field to 128 bytes before escapeCefHeader doubles every
    // `\`: the event is 530 bytes
    expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(512);
  });
});
