// Audit 5: files, permissions and secrets at rest. Each test names the behaviour it expects and
// fails while the agent (or install.sh) does otherwise. Root only: it creates three system
// users (a service user standing in for `siem-agent`, and two forwarder users), removed in
// afterAll; install.sh runs in a scratch root (--prefix) with its build already in place, so that
// it takes a second instead of an `npm ci`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { BIN, tmp, runCommand as run } from '../helpers/agent.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canRun = isRoot && has('runuser') && has('useradd');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// the service user (install.sh's `siem-agent`), a forwarder in a group of its own (Splunk UF's
// `splunkfwd`, Filebeat ...), and a forwarder the admin added to the service user's group
const AGENT = 'a5f-agent';
const FWD = 'a5f-fwd';
const FWD_GROUP = 'a5f-fwdg';
const FWD2 = 'a5f-fwd2';
const SECRET = 'Zk7-a5f-key-secret-never-on-disk';
const PROXY_PW = 'Pw-a5f-proxy-never-on-disk';

let emu: Emulator;
const servers: Server[] = [];
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
function removeUsers() {
  for (const u of [FWD2, FWD, AGENT]) quiet('userdel', [u]);
  quiet('groupdel', [FWD_GROUP]);
}
beforeAll(async () => {
  emu = await startEmulator({ keySecret: SECRET, data: { seed: 55, counts: { Investigate: 200, Detect: 0 }, hostile: false, tieGroupSize: 1 } });
  if (!canRun) return;
  removeUsers(); // left over by an interrupted run of this file
  execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', AGENT]);
  execFileSync('groupadd', ['-r', FWD_GROUP]);
  execFileSync('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', '-g', FWD_GROUP, FWD]);
  execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', '-G', AGENT, FWD2]);
});
afterAll(async () => {
  for (const s of servers) s.close();
  await emu?.close();
  if (canRun) removeUsers();
});

const uid = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
const gid = (g: string) => Number(execFileSync('getent', ['group', g], { encoding: 'utf8' }).split(':')[2]);

const asUser = (user: string, cmd: string, args: string[]) => run('runuser', ['-u', user, '--', cmd, ...args]);
/** Whether `user` can read `path` (open and read it, as a forwarder would). */
const canRead = (user: string, path: string) => spawnSync('runuser', ['-u', user, '--', 'head', '-c', '1', path], { stdio: 'ignore' }).status === 0;

/** A scratch directory others can traverse (tmp() makes them 0700). */
function dir(owner?: string): string {
  const d = tmp('sa-a5f-');
  chmodSync(d, 0o755);
  if (owner) chownSync(d, uid(owner), gid(owner));
  return d;
}
/** config.json for the emulator, owned by `owner` and 0600, as README's Install says. */
function config(d: string, owner?: string): string {
  const p = emu.configFile(d);
  if (owner) chownSync(p, uid(owner), gid(owner));
  return p;
}
/** A root-only file standing in for /etc/shadow or any file only root may change. */
function rootOnlyFile(text: string): { dir: string; file: string } {
  const d = tmp('sa-a5f-root-'); // 0700, root's
  const file = join(d, 'victim');
  writeFileSync(file, text, { mode: 0o600 });
  return { dir: d, file };
}

// install.sh in a scratch root, its build put in place first so that it needs no npm ci (it
// compares a stamp of the sources and finds dist/siem-agent.cjs there: "up to date")
const PREBUILD = `set -e; SRC="$1"; APP="$2/opt/siem-agent"; mkdir -p "$APP"
WANT="$(cat "$SRC/package-lock.json" "$SRC/tsconfig.json" | cksum) $(find "$SRC/src" "$SRC/scripts/build.mjs" -type f -exec cksum {} + | sort | cksum)"
cp -R "$SRC/dist" "$APP/dist"; echo "$WANT" > "$APP/.build-stamp"`;
function install(prefix: string, args: string[]) {
  if (!existsSync(join(prefix, 'opt/siem-agent/.build-stamp'))) execFileSync('bash', ['-c', PREBUILD, '_', ROOT.replace(/\/$/, ''), prefix]);
  const r = spawnSync('bash', [join(ROOT, 'install.sh'), '--prefix', prefix, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr + r.stdout);
  expect(r.stdout).toMatch(/up to date/); // no npm ci was needed
  return r;
}

describe.skipIf(!canRun)('FILE output read by a forwarder that runs as its own user (README: FILE output and a forwarder monitoring the file)', () => {
  it('after install.sh, a forwarder added to the service user\'s group can read the FILE output in /var/log/siem-agent', async () => {
    const prefix = dir();
    const P = (p: string) => join(prefix, p);
    // README, Install: sudo ./install.sh --cron --config /etc/siem-agent/config.json --flags "-o FILE -f /var/log/siem-agent/cloudsoc.cef"
    install(prefix, ['--cron', '--user', AGENT, '--flags', '-o FILE -f /var/log/siem-agent/cloudsoc.cef']);
    const cfg = config(P('etc/siem-agent'), AGENT); // "chmod 600 it and chown siem-agent it"
    const out = P('var/log/siem-agent/cloudsoc.cef');
    const res = await asUser(AGENT, BIN, ['--config', cfg, '-o', 'FILE', '-f', out, '--log_file', P('var/log/siem-agent/siem_agent.log'), '--severity', 'all', '--max_logs', '20']);
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toHaveLength(20);
    // the file is 0640 <agent>:<agent's group>, so "add the forwarder to the agent's group" is the
    // natural way; but install.sh leaves the directory root's group (chown USER, not USER:GROUP), 0750
    const d = statSync(P('var/log/siem-agent'));
    expect(canRead(FWD2, out), `${FWD2} (groups: ${AGENT}) cannot read ${out}: its directory is ${(d.mode & 0o777).toString(8)} uid ${d.uid} gid ${d.gid} (root's group), the file ${(statSync(out).mode & 0o777).toString(8)} gid ${statSync(out).gid}`).toBe(true);
  }, 30_000);

  // The agent (not root) cannot give a file a group it is not in: README's set-up for a forwarder
  // in its own group is a setgid directory of that group, whose new files (rotations too) get it;
  // a run as root keeps the file's group itself, as logrotate's create does.
  it.each([['the service user, in a setgid directory of the forwarder\'s group', true], ['root, in a plain directory', false]])('--max_bytes rotation keeps the group and mode the admin gave the output file: the forwarder can still read PATH after a rotation (run by %s)', async (_who, asAgent) => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    // the admin's set-up for a forwarder in its own group: the directory and the file are the
    // forwarder group's (what logrotate's `create 0640 siem-agent splunk` also gives)
    const outDir = join(base, 'out');
    mkdirSync(outDir);
    chownSync(outDir, uid(AGENT), gid(FWD_GROUP));
    chmodSync(outDir, asAgent ? 0o2750 : 0o750);
    const out = join(outDir, 'events.json');
    writeFileSync(out, '');
    chownSync(out, uid(AGENT), gid(FWD_GROUP));
    chmodSync(out, 0o640);
    expect(canRead(FWD, out)).toBe(true);
    const args = ['--config', cfg, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', join(base, 'agent.log'),
      '--max_bytes', '20000', '--backup_count', '20'];
    const res = asAgent ? await asUser(AGENT, BIN, args) : await run(BIN, args);
    expect(res.code, res.stderr).toBe(0);
    const files = readdirSync(outDir).filter((f) => f.startsWith('events.json')).sort();
    expect(files.length).toBeGreaterThan(2); // it did rotate
    const unreadable = files.filter((f) => !canRead(FWD, join(outDir, f)))
      .map((f) => { const st = statSync(join(outDir, f)); return `${f} (${(st.mode & 0o777).toString(8)} gid ${st.gid})`; });
    expect(unreadable, `the forwarder (group ${FWD_GROUP} = gid ${gid(FWD_GROUP)}) can no longer read: ${unreadable.join(', ')}`).toEqual([]);
    // a root run's rotation leaves PATH the service user's, or its cron runs could no longer append
    expect(statSync(out).uid).toBe(uid(AGENT));
  }, 30_000);
});

describe.skipIf(!canRun)('symbolic links planted by the service user in its own directories, then a run as root (README: "a run as root", `sudo` backfills, `bundle`)', () => {
  // /var/log/siem-agent and /etc/siem-agent belong to the service user (install.sh). Whoever runs
  // as that user (the agent parses untrusted API data) can put links there; root's runs must not
  // write through them into files only root may change. (bin/compile-cache.js refuses links for
  // exactly this reason; README's backfill example also writes to /tmp/backfill.cef.)
  it('the FILE output path: a run as root does not append to the file a planted link points to', async () => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const victim = rootOnlyFile('root-only content\n');
    const out = join(base, 'cloudsoc.cef');
    expect((await asUser(AGENT, 'ln', ['-s', victim.file, out])).code).toBe(0);
    await run(BIN, ['--config', cfg, '-o', 'FILE', '-f', out, '--severity', 'all', '--log_file', join(base, 'agent.log'), '--max_logs', '3']);
    expect(readFileSync(victim.file, 'utf8'), 'the run appended CEF lines to a root-only file through the link').toBe('root-only content\n');
  }, 30_000);

  it('the agent\'s log: a run as root creates no file through a planted link (e.g. /etc/nologin, which locks every user out)', async () => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const victim = rootOnlyFile('x');
    const nologin = join(victim.dir, 'nologin');
    const log = join(base, 'siem_agent.log');
    expect((await asUser(AGENT, 'ln', ['-s', nologin, log])).code).toBe(0);
    const res = await run(BIN, ['--config', cfg, '-o', 'FILE', '-f', join(base, 'out.cef'), '--severity', 'all', '--log_file', log, '--max_logs', '3']);
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(nologin), `root's run created ${nologin} through the link: ${existsSync(nologin) ? readFileSync(nologin, 'utf8').slice(0, 120) : ''}`).toBe(false);
  }, 30_000);

  it('the state directory: a run as root does not write its temp file (.last_job.status.PID.N.tmp) through a planted link', async () => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const victim = rootOnlyFile('root-only content\n');
    // the temp name is predictable (pid and a counter); an attacker plants links for a range of
    // pids, this test for the one the run gets: `exec` keeps the shell's pid ($$)
    const res = await run('sh', ['-c', 'runuser -u "$AGENT" -- ln -s "$VICTIM" "$DIR/.last_job.status.$$.1.tmp" && exec "$@"', 'sh',
      BIN, '--config', cfg, '-o', 'FILE', '-f', join(base, 'out.cef'), '--severity', 'all', '--log_file', join(base, 'agent.log'), '--max_logs', '3'],
    { ...process.env, AGENT, VICTIM: victim.file, DIR: base });
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(victim.file, 'utf8'), 'a root-only file was truncated and overwritten with last_job.status through the temp file\'s link').toBe('root-only content\n');
  }, 30_000);

  // bundle as root and planted links: test/e2e/audit5-bundle.test.ts (with the skip notes)
});

describe.skipIf(!canRun)('the proxy password at rest and in /proc', () => {
  // README, flags: "with -u and no -p, SIEM_AGENT_PROXY_PASSWORD in the environment gives the
  // password and keeps it out of ps; ... put it in the crontab line's environment or the unit's"
  const prefix = dir();
  const P = (p: string) => join(prefix, p);
  const flags = '-o FILE -f /var/log/siem-agent/cloudsoc.cef --proxy http://proxy.example:3128 -u agent';
  const cron = P('etc/cron.d/siem-agent');

  it('the cron file install.sh writes, where README says to put SIEM_AGENT_PROXY_PASSWORD, is not readable by other local users', () => {
    install(prefix, ['--cron', '--user', AGENT, '--flags', flags]);
    // the admin does what README says: the password in the environment of the crontab line
    const text = readFileSync(cron, 'utf8').replace(/^\*\/10 /m, `SIEM_AGENT_PROXY_PASSWORD=${PROXY_PW}\n*/10 `);
    writeFileSync(cron, text);
    expect(readFileSync(cron, 'utf8')).toContain(PROXY_PW);
    expect(canRead(FWD, cron), `any local user reads the proxy password in ${cron} (mode ${(statSync(cron).mode & 0o777).toString(8)}); cron accepts 0600`).toBe(false);
  }, 30_000);

  it('install.sh run again (an upgrade) keeps the SIEM_AGENT_PROXY_PASSWORD line, as it keeps an edited MAILTO: the job would otherwise fail with 407 from then on', () => {
    expect(readFileSync(cron, 'utf8')).toContain(PROXY_PW);
    install(prefix, ['--cron', '--user', AGENT, '--flags', flags]);
    expect(readFileSync(cron, 'utf8'), 'install.sh rewrote the cron file without the password line').toContain(`SIEM_AGENT_PROXY_PASSWORD=${PROXY_PW}`);
  }, 30_000);

  it('-p: another local user cannot read the password from /proc/PID/cmdline while the run goes on (ps shows every argument to everyone)', async () => {
    // a proxy that accepts and never answers: the run lives for --request_timeout
    const server = createServer(() => undefined);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const c = spawn('runuser', ['-u', AGENT, '--', BIN, '--config', cfg, '-o', 'FILE', '-f', join(base, 'out.cef'), '--log_file', join(base, 'agent.log'),
      '--proxy', `127.0.0.1:${port}`, '-u', 'agent', '-p', PROXY_PW, '--request_timeout', '5', '--retries', '0'], { stdio: 'ignore' });
    let agentPid = 0;
    try {
      // the agent itself (runuser's child): wait until it has started its run
      for (let i = 0; i < 100 && !agentPid; i++) {
        await sleep(100);
        const kids = spawnSync('pgrep', ['-P', String(c.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
        if (kids[0] && existsSync(join(base, 'last_job.status'))) agentPid = Number(kids[0]);
      }
      expect(agentPid).toBeGreaterThan(0);
      const seen = spawnSync('runuser', ['-u', FWD, '--', 'cat', `/proc/${agentPid}/cmdline`], { encoding: 'utf8' });
      expect(seen.status).toBe(0);
      expect(seen.stdout.split('\0').join(' ').includes(PROXY_PW), `${FWD} reads: ${seen.stdout.split('\0').join(' ').slice(-160)}`).toBe(false);
    } finally {
      if (agentPid) process.kill(agentPid, 'SIGKILL');
      c.kill('SIGKILL');
    }
  }, 30_000);
});

describe.skipIf(!isRoot || !has('logrotate'))('logrotate with README\'s own recommendation (create + delaycompress, monitor events.json*)', () => {
  it('logrotate renaming the file during a run: every log once across events.json*, and the run does not fail', async () => {
    const e = await startEmulator({ latencyMs: 150, data: { seed: 56, counts: { Investigate: 200, Detect: 0 }, hostile: false, tieGroupSize: 1 } });
    try {
      const base = dir();
      const cfg = e.configFile(base);
      const out = join(base, 'events.json');
      const conf = join(base, 'logrotate.conf');
      writeFileSync(conf, `${out} {\n  rotate 5\n  create 0640\n  compress\n  delaycompress\n  missingok\n}\n`);
      const args = ['--config', cfg, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', join(base, 'agent.log'), '--page_size', '20'];
      const first = run(BIN, args);
      for (let i = 0; i < 100 && !(existsSync(out) && statSync(out).size > 0); i++) await sleep(50);
      await sleep(400);
      execFileSync('logrotate', ['-f', '-s', join(base, 'logrotate.state'), conf]);
      const r1 = await first;
      const r2 = await run(BIN, args);
      expect(r2.code, r2.stderr).toBe(0);
      const counts = new Map<string, number>();
      for (const f of readdirSync(base).filter((n) => n.startsWith('events.json'))) {
        for (const l of readFileSync(join(base, f), 'utf8').split('\n').filter(Boolean)) {
          const id = (JSON.parse(l) as { _id: string })._id;
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      expect(counts.size).toBe(200);
      const twice = [...counts.values()].filter((n) => n > 1).length;
      expect(twice, `${twice} logs are in events.json.1 and again in events.json (first run: exit ${r1.code}, ${r1.stderr.trim().slice(0, 200)})`).toBe(0);
      expect(r1.code, r1.stderr).toBe(0);
    } finally {
      await e.close();
    }
  }, 30_000);
});
