// Operations and installation at the edges (from an audit; each failed before its fix): each test states what README.md promises and fails while
// the agent or install.sh breaks that promise. Nothing here touches the real crontab, systemd,
// /etc or /var: install.sh runs in a scratch root (--prefix), and the service user and systemd's
// read-only file system are stood in for by an unprivileged uid (setpriv) and a private mount
// namespace (unshare -m), both only when this process is root.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { jsonLines, runAgent, startAgent, tmp, type AgentResult, runCommand as run } from '../helpers/agent.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canUnshare = isRoot && has('unshare') && spawnSync('unshare', ['-m', 'true']).status === 0;
const NOBODY = 65534; // stands in for the dedicated user `siem-agent` install.sh creates

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 77, counts: { Investigate: 600, Detect: 200 } } });
});
afterAll(() => emu.close());

function setup(extra: string[] = []) {
  const dir = tmp('sa-edge-');
  const log = join(dir, 'agent.log');
  const out = join(dir, 'out.json');
  const config = emu.configFile(dir);
  return { dir, log, out, config, args: ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', log, ...extra] };
}


describe('--dry_run never moves the marker or the status (README: Every flag)', () => {
  it.each([['-c'], ['-r']])('--dry_run %s leaves last_job.status and the marker as they were', async (flag) => {
    const s = setup(['--max_logs', '5']);
    expect((await runAgent(s.args)).code).toBe(0);
    const statusPath = join(s.dir, 'last_job.status');
    const statePath = join(s.dir, 'export_log.state');
    const before = { status: readFileSync(statusPath, 'utf8'), state: readFileSync(statePath, 'utf8') };
    const dry = await runAgent([...s.args, '--dry_run', flag]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(readFileSync(statePath, 'utf8')).toBe(before.state);
    // the dry run must not erase the record `siem-agent status` (and monitoring) reads
    expect(existsSync(statusPath), `--dry_run ${flag} deleted last_job.status`).toBe(true);
    expect(readFileSync(statusPath, 'utf8')).toBe(before.status);
    const st = await runAgent(['status', '--config', s.config]);
    expect(st.stdout).not.toMatch(/no run recorded/);
    expect(st.code, st.stdout).toBe(0);
  });
});

describe('heartbeat after a clean --max_runtime stop (README: Exit status, heartbeat)', () => {
  it('a run stopped at --max_runtime (exit 0, result ok) sends an informational heartbeat with no errors', async () => {
    const s = setup(['--page_size', '10', '--max_runtime', '2', '--heartbeat']);
    emu.setLatency(1500);
    let res: AgentResult;
    try {
      res = await runAgent(s.args);
    } finally {
      emu.setLatency(0);
    }
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/stopped at --max_runtime 2 s/);
    const status = JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8')) as { result: string };
    expect(status.result).toBe('ok');
    const hb = jsonLines(s.out).at(-1)!;
    expect(hb.activity_type).toBe('Heartbeat');
    // a backlog that takes several runs hits --max_runtime on every run: each heartbeat saying
    // "error" would fire the README's SIEM error rules (errors > 0, severity error) every 10 minutes
    expect({ severity: hb.severity, errors: hb.errors, message: hb.message }).toEqual({
      severity: 'informational', errors: 0, message: expect.stringMatching(/no errors$/) as unknown,
    });
    expect(readFileSync(s.log, 'utf8')).not.toMatch(/delivered \d+, .*error: stopped/);
  }, 30_000);
});

describe('status after a run died (README: "A running status whose pid is gone shows a run that died")', () => {
  it('a SIGKILLed run is reported at once, not as a healthy lock holder', async () => {
    const s = setup(['--page_size', '20']);
    emu.setLatency(300);
    try {
      const a = startAgent(s.args);
      await new Promise((r) => setTimeout(r, 1500));
      a.child.kill('SIGKILL');
      await a.done;
    } finally {
      emu.setLatency(0);
    }
    const st = await runAgent(['status', '--config', s.config, '--json']);
    const j = JSON.parse(st.stdout) as { healthy: boolean; lock: unknown; problems: string[] };
    expect({ code: st.code, healthy: j.healthy, lock: j.lock }).toEqual({ code: 1, healthy: false, lock: { held: false, pid: null } });
    expect(j.problems.join('\n')).toMatch(/died without finishing/);
  });
});

describe.skipIf(!isRoot || !has('setpriv'))('state files the service user cannot read (a one-off run as root)', () => {
  it('says it is a permission problem and does not advise -r (which re-sends every log)', async () => {
    const s = setup(['--max_logs', '5']);
    // what install.sh does for the service user: the state directory and the key file are theirs
    chmodSync(s.dir, 0o750);
    chownSync(s.dir, NOBODY, NOBODY);
    chownSync(s.config, NOBODY, NOBODY);
    // an admin tries the agent once by hand with sudo: export_log.state is now root's, mode 0600
    expect((await runAgent(s.args)).code).toBe(0);
    expect(statSync(join(s.dir, 'export_log.state')).uid).toBe(0);
    // the next cron run, as the service user
    const res = await run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', join(ROOT, 'bin/siem-agent'), ...s.args]);
    expect(res.code).toBe(1);
    // -r deletes the marker and delivers everything the API keeps again (180 days of duplicates);
    // the fix is the file's owner
    expect(res.stderr).not.toMatch(/with -r\b/);
    expect(res.stderr).toMatch(/permission|owner|chown/i);
  });
});

// ---------------------------------------------------------------------------------------------
// install.sh in a scratch root

const install = (args: string[]) => spawnSync('bash', [join(ROOT, 'install.sh'), ...args], { encoding: 'utf8', env: process.env });

/** The command cron runs for a crontab line: everything after the first unescaped % is stdin (crontab(5)). */
function cronCommand(line: string): string {
  const cmd = line.trim().replace(/^(\S+\s+){6}/, ''); // 5 time fields + the user (cron.d format)
  const m = /(^|[^\\])%/.exec(cmd);
  // cron cuts the command at an unescaped % and passes an escaped one on without its backslash
  return (m ? cmd.slice(0, m.index + m[1]!.length) : cmd).replace(/\\%/g, '%');
}

describe('install.sh: flags are written so that cron and systemd run them as given', () => {
  const prefix = tmp('sa-edge-inst-');
  // a proxy URL with a percent-encoded password: how README's `--proxy URL` carries an @ or a :
  const flags = '-o FILE -f /var/log/siem-agent/cloudsoc.cef --proxy http://agent:p%40ss@proxy.example.com:3128';

  it('--cron: the cron line runs the whole command (a % would end it)', () => {
    const r = install(['--prefix', prefix, '--cron', '--flags', flags]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const line = readFileSync(join(prefix, 'etc/cron.d/siem-agent'), 'utf8').split('\n').find((l) => l.startsWith('*/10'))!;
    expect(cronCommand(line)).toBe(`exec /usr/local/bin/siem-agent --config /etc/siem-agent/config.json ${flags} >/dev/null`);
  }, 180_000);

  it.skipIf(!has('systemd-analyze'))('--systemd: the service unit passes systemd-analyze verify', () => {
    const r = install(['--prefix', prefix, '--systemd', '--flags', flags]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    // verify a copy whose ExecStart names the scratch root's binary (/usr/local/bin/siem-agent is not on this host)
    const copy = tmp('sa-edge-unit-');
    const bin = join(prefix, 'usr/local/bin/siem-agent');
    for (const u of ['siem-agent.service', 'siem-agent.timer']) {
      writeFileSync(join(copy, u), readFileSync(join(prefix, 'etc/systemd/system', u), 'utf8').replace('ExecStart=/usr/local/bin/siem-agent', `ExecStart=${bin}`));
    }
    const v = spawnSync('systemd-analyze', ['verify', join(copy, 'siem-agent.service'), join(copy, 'siem-agent.timer')], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  }, 180_000);
});

describe("install.sh: the README's own install command gives a job that can do its work", () => {
  const prefix = tmp('sa-edge-inst2-');
  // README, Install: sudo ./install.sh --cron --config /etc/siem-agent/config.json --flags "-o FILE -f /var/log/siem-agent/cloudsoc.cef"
  const flags = '-o FILE -f /var/log/siem-agent/cloudsoc.cef';
  const P = (p: string) => join(prefix, p);
  /** The unit's / cron's command with every absolute path moved into the scratch root. */
  const rooted = (cmd: string) => cmd.split(' ').map((a) => (a.startsWith('/') ? P(a) : a));

  beforeAll(() => {
    chmodSync(prefix, 0o755);
    const r = install(['--prefix', prefix, '--systemd', '--flags', flags]);
    if (r.status !== 0) throw new Error(r.stderr + r.stdout);
    mkdirSync(P('var/log'), { recursive: true });
    chmodSync(P('var/log'), 0o755); // as on any host: /var/log is root's
    // the key file where README says, chmod 600, owned by the service user
    const written = emu.configFile(P('etc/siem-agent'));
    chmodSync(written, 0o600);
  }, 180_000);

  it.skipIf(!canUnshare)('--systemd: under the unit\'s ProtectSystem=strict the output file is writable', async () => {
    const unit = readFileSync(P('etc/systemd/system/siem-agent.service'), 'utf8');
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    // "-PATH": a path that may not exist yet
    const rw = /^ReadWritePaths=(.*)$/m.exec(unit)![1]!.split(/\s+/).map((p) => p.replace(/^-/, '')).filter((p) => existsSync(P(p)));
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!;
    // ProtectSystem=strict: the whole tree read-only except ReadWritePaths (and CacheDirectory)
    const script = [
      `mount --bind ${prefix} ${prefix}`, `mount -o remount,bind,ro ${prefix} ${prefix}`,
      ...rw.map((p) => `mount --bind ${P(p)} ${P(p)} && mount -o remount,bind,rw ${P(p)} ${P(p)}`),
      `exec ${rooted(exec).join(' ')} --log_file ${P('var/log/siem-agent/siem_agent.log')}`,
    ].join(' && ');
    const res = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
    expect(res.stderr).not.toMatch(/EROFS/);
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(P('var/log/siem-agent/cloudsoc.cef'))).toBe(true);
  }, 60_000);

  it.skipIf(!isRoot || !has('setpriv'))('--cron: the service user can write the output file', async () => {
    // what install.sh does on a real host for its user: /etc/siem-agent and /var/log/siem-agent are theirs
    // start clean of what the systemd test's run (as root) may have left
    for (const f of ['etc/siem-agent/last_job.status', 'etc/siem-agent/export_log.state', 'var/log/siem-agent/siem_agent.log', 'var/log/siem-agent/cloudsoc.cef']) rmSync(P(f), { force: true });
    for (const d of ['etc/siem-agent', 'var/log/siem-agent', 'etc/siem-agent/config.json']) chownSync(P(d), NOBODY, NOBODY);
    const r = install(['--prefix', prefix, '--cron', '--flags', flags]);
    expect(r.status, r.stderr).toBe(0);
    const line = readFileSync(P('etc/cron.d/siem-agent'), 'utf8').split('\n').find((l) => l.startsWith('*/10'))!;
    expect(line).toMatch(/^\*\/10 \* \* \* \* siem-agent exec \//);
    // what sh -c runs once `exec` has replaced it
    const cmd = rooted(cronCommand(line).replace(/^exec /, '').replace(/\s*>\/dev\/null$/, ''));
    const res = await run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', ...cmd,
      '--log_file', P('var/log/siem-agent/siem_agent.log')]);
    expect(res.stderr).not.toMatch(/EACCES/);
    expect(res.code, res.stderr).toBe(0);
  }, 180_000);

  it('--systemd --config elsewhere: the state directory (the config\'s directory) is in ReadWritePaths', () => {
    const r = install(['--prefix', prefix, '--systemd', '--config', '/srv/siem/config.json', '--flags', '-o FILE -f /var/log/siem-agent/cloudsoc.cef']);
    expect(r.status, r.stderr).toBe(0);
    const unit = readFileSync(P('etc/systemd/system/siem-agent.service'), 'utf8');
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    const rw = /^ReadWritePaths=(.*)$/m.exec(unit)![1]!.split(/\s+/).map((p) => p.replace(/^-/, ''));
    // --state_dir defaults to the config file's directory: export_log.state, the lock, last_job.status
    expect(rw).toContain('/srv/siem');
  }, 180_000);
});

describe('npm run demo cleans up after itself', () => {
  it('leaves no temp directory (with a config.json and state) behind', async () => {
    const t = tmp('sa-edge-demo-');
    const res = await run(process.execPath, [join(ROOT, 'scripts/demo.mjs')], { ...process.env, TMPDIR: t });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^CEF:0\|/m);
    expect(readdirSync(t)).toEqual([]);
  }, 60_000);
});
