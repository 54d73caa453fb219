// Audit: process lifecycle and operations — signals, the lock, overlapping runs, cron's
// environment, full and read-only disks, status/check, exit codes. Each test says what an
// admin would expect and why; scratch directories live under /tmp/siem-agent-lifecycle.
import { execFileSync, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { BIN, countIds, idsOf, jsonLinesAfterKills, readLog, runAgent, startAgent, stateOf, type AgentResult } from '../helpers/agent.js';
import { withTmpfs } from '../helpers/tmpfs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRATCH = '/tmp/siem-agent-lifecycle';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canMount = isRoot && has('mount') && has('umount');
const NOBODY = 65534;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let emu: Emulator;
beforeAll(async () => {
  mkdirSync(SCRATCH, { recursive: true });
  emu = await startEmulator({ data: { seed: 303, counts: { Investigate: 900, Detect: 300 }, hostile: false } });
});
afterAll(() => emu.close());

const allIds = () => [...emu.logs.Investigate, ...emu.logs.Detect].map((r) => r._id);

function setup(extra: string[] = []) {
  const dir = mkdtempSync(join(SCRATCH, 'lc-'));
  chmodSync(dir, 0o755);
  const log = join(dir, 'agent.log');
  const out = join(dir, 'out.json');
  const config = emu.configFile(dir);
  chmodSync(config, 0o600);
  return { dir, log, out, config, args: ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', log, ...extra] };
}

/** Spawns a command asynchronously (the emulator lives in this process and must keep answering). */
function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<AgentResult> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    c.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}


/** Fills a file system to the last byte. */
function fill(mnt: string): void {
  try {
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(4 * 1024 * 1024));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
}

async function untilCaughtUp(args: string[], log: string, maxRuns = 20): Promise<void> {
  for (let i = 1; i <= maxRuns; i++) {
    const before = readLog(log).length;
    const res = await runAgent(args);
    if (res.code !== 0) throw new Error(`catch-up run ${i} exited ${res.code}: ${res.stderr}`);
    const text = readLog(log).slice(before);
    if (/: delivered /.test(text) && !/: delivered [1-9]/.test(text)) return;
  }
  throw new Error('never caught up');
}

/** A pid that is certainly not running any more. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

// ---------------------------------------------------------------------------------------------
// Findings (each fails against the code as audited)

describe('the lock and -c', () => {
  it('-c never removes a lock that a live run holds, even when last_job.status still shows the previous run', async () => {
    // README: "-c … a live run's lock is never taken (the run then says `Another instance is
    // already running.`)". A run writes last_job.status only after taking the lock; a -c run
    // that starts in that instant finds "ok" from the run before, deletes the live lock and runs
    // alongside: both deliver the same page (seen with two cron lines, or cron and a timer, both
    // carrying the old agent's -c: by hand, 2 of 6 pairs of runs started together on a fresh
    // state delivered the first page of each app twice). Here a stand-in holds the lock in that instant.
    const s = setup(['--max_logs', '50']);
    expect((await runAgent(s.args)).code).toBe(0); // last_job.status: ok
    const linesBefore = jsonLinesAfterKills(s.out).length;
    // a live agent right after acquireLock(), before its first status write
    let compromised = false;
    const release = await lockfile.lock(s.dir, {
      lockfilePath: join(s.dir, 'export_log.lock'), realpath: false, stale: 30_000, update: 5_000, retries: 0,
      onCompromised: () => { compromised = true; },
    });
    try {
      const res = await runAgent([...s.args, '-c']);
      expect(res.code).toBe(0);
      expect({ delivered: jsonLinesAfterKills(s.out).length - linesBefore, lockTakenFromLiveHolder: compromised || !existsSync(join(s.dir, 'export_log.lock')) })
        .toEqual({ delivered: 0, lockTakenFromLiveHolder: false });
      expect(readLog(s.log)).toMatch(/Another instance is already running/);
    } finally {
      await release().catch(() => undefined);
    }
  });

  it('a lock left by a dead run whose mtime is ahead of the clock does not block every cron run silently', async () => {
    // After a crash, a clock stepped back (NTP correcting a fast clock, a VM restored from a
    // snapshot) leaves the dead run's lock "fresh" for as long as the skew. `status` already knows
    // the holder is dead (same host, pid gone) and says so; the runs meanwhile log one INFO line,
    // print nothing on stderr and exit 0 — cron sees success for hours while nothing is delivered.
    const s = setup(['--max_logs', '20']);
    const lock = join(s.dir, 'export_log.lock');
    mkdirSync(lock);
    const future = new Date(Date.now() + 2 * 3600_000);
    utimesSync(lock, future, future);
    writeFileSync(join(s.dir, 'last_job.status'), JSON.stringify({
      version: '1.0.0', pid: deadPid(), host: hostname(), run_id: 'x', argv: [], started_at: new Date(Date.now() - 60_000).toISOString(), result: 'running', apps: {},
    }));
    const st = await runAgent(['status', '--config', s.config]);
    expect(st.stdout).toMatch(/died without finishing/); // status knows
    const res = await runAgent(s.args);
    const delivered = jsonLinesAfterKills(s.out).length;
    // expected: the lock of a holder known to be dead is taken over (as -c would), or the run
    // fails loudly; observed: "Another instance is already running.", exit 0, stderr empty
    expect({ code: res.code, delivered: delivered > 0 || (res.code !== 0 && res.stderr !== '') }, readLog(s.log)).toEqual({ code: 0, delivered: true });
  });
});

describe('check', () => {
  it.skipIf(!isRoot || !has('setpriv'))('check as root does not leave a root-owned output file that the service user then cannot write', async () => {
    // README: `check` "never moves the marker"; file.ts: "so `check` never changes the file".
    // check opens the FILE output, which creates the directory and an empty file, owned by
    // whoever ran check. An admin who runs it with sudo (install.sh's last line says
    // `run: siem-agent check --config …`) leaves a root 0640 file: every cron run as the service
    // user then fails with "cannot write (permission denied)".
    const s = setup();
    const logdir = join(s.dir, 'log');
    mkdirSync(logdir);
    chownSync(s.dir, NOBODY, NOBODY);
    chownSync(s.config, NOBODY, NOBODY);
    chownSync(logdir, NOBODY, NOBODY);
    const out = join(logdir, 'cloudsoc.cef');
    const args = ['--config', s.config, '-o', 'FILE', '-f', out, '--log_file', join(logdir, 'agent.log'), '--max_logs', '5'];
    const chk = await run(BIN, ['check', ...args]);
    expect(chk.code, chk.stdout).toBe(0);
    const cron = await run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', BIN, ...args]);
    expect({ code: cron.code, stderr: cron.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe.skipIf(!canMount)('a full state directory', () => {
  it('every run fails on a full disk: `status` must not keep reporting the last good run as healthy', async () => {
    // README: status exits 1 "when the last run failed". The failing run cannot write
    // last_job.status (ENOSPC), so the previous run's "ok" stays: `status` says "status: OK",
    // exit 0, while every cron run exits 1 — the monitoring check stays green.
    const s = setup(['--max_logs', '20']);
    await withTmpfs(s.dir, 'st', 'size=256k', async (st) => {
      const args = [...s.args, '--state_dir', st];
      expect((await runAgent(args)).code).toBe(0);
      fill(st);
      const failed = await runAgent(args);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/ENOSPC/);
      const status = await runAgent(['status', '--config', s.config, '--state_dir', st]);
      expect({ code: status.code, ok: /status: OK/.test(status.stdout) }, status.stdout).toEqual({ code: 1, ok: false });
    });
  });

  it('a failed atomic write (disk full) leaves no temp files behind, run after run', async () => {
    // writeFileAtomic() removes its temp file only when the rename fails, not when the write
    // does: each cron run on a full disk adds .last_job.status.PID.N.tmp (and, mid-run,
    // .export_log.state.PID.N.tmp) files, holding whatever part was written, for ever.
    const s = setup(['--max_logs', '20']);
    await withTmpfs(s.dir, 'st', 'size=256k', async (st) => {
      const args = [...s.args, '--state_dir', st];
      expect((await runAgent(args)).code).toBe(0);
      fill(st);
      for (let i = 0; i < 2; i++) expect((await runAgent(args)).code).toBe(1);
      expect(readdirSync(st).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  });

  it('the disk fills during a run: the error names the state file, as every other error names what and where', async () => {
    // README "Bad input": every error is "one line … naming what and where". Observed:
    // "ERROR: Error: ENOSPC: no space left on device, write. Exiting!" — no file named.
    const s = setup(['--page_size', '50', '--elastica_app', 'investigate']);
    await withTmpfs(s.dir, 'st', 'size=256k', async (st) => {
      emu.setLatency(150);
      let res: AgentResult;
      try {
        const a = startAgent([...s.args, '--state_dir', st]);
        for (let i = 0; i < 100 && !stateOf(st)?.apps.Investigate; i++) await sleep(50);
        fill(st);
        res = await a.done;
      } finally {
        emu.setLatency(0);
      }
      expect(res.code).toBe(1);
      const err = res.stderr.split('\n').find((l) => l.startsWith('ERROR:')) ?? '';
      expect(err).toMatch(/export_log\.state/);
      expect(err).not.toMatch(/^ERROR: Error: /);
    });
  });
});

describe('stderr closed by its reader (SIGPIPE/EPIPE)', () => {
  it('a run whose stderr reader went away finishes its work: stderr is diagnostics, the agent log has it all', async () => {
    // `siem-agent -d … 2>&1 | head`, a `| logger` that was restarted: the next write to stderr
    // gets EPIPE, which nothing handles: the run dies mid-page (exit 1), nothing in the agent's
    // log says why, last_job.status stays "running" (status: "died"). The README promises a
    // clean end for a closed -o STREAM pipe; stderr is not even the output here.
    const s = setup(['--page_size', '50', '--max_logs', '300', '-d']);
    emu.setLatency(30);
    let code: number | null;
    try {
      code = await new Promise<number | null>((resolve) => {
        const c = spawn(BIN, s.args, { stdio: ['ignore', 'ignore', 'pipe'] });
        c.stderr!.once('data', () => c.stderr!.destroy());
        c.on('close', (cd) => resolve(cd));
      });
    } finally {
      emu.setLatency(0);
    }
    const status = JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8')) as { result: string };
    expect({ code, result: status.result, delivered: jsonLinesAfterKills(s.out).length }).toEqual({ code: 0, result: 'ok', delivered: 600 });
  });
});

describe('cron: where errors go', () => {
  it('install.sh --cron routes the job\'s stderr to the admin (MAILTO), as its own comment and the README say', () => {
    // README: "Errors and warnings also go to stderr, which cron mails to the admin"; the cron
    // file's comment: "stderr (errors only) is mailed by cron to the admin". Without MAILTO, cron
    // mails a /etc/cron.d job's output to the job's user — here the system user `siem-agent`
    // (no home, nobody reads its mail): every failing run is, in effect, silent.
    const prefix = mkdtempSync(join(SCRATCH, 'lc-inst-'));
    const r = spawnSync('bash', [join(ROOT, 'install.sh'), '--prefix', prefix, '--cron', '--flags', '-o FILE -f /var/log/siem-agent/cloudsoc.cef'], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const cron = readFileSync(join(prefix, 'etc/cron.d/siem-agent'), 'utf8');
    expect(cron).toMatch(/^MAILTO=\S+/m);
  }, 180_000);
});

describe('flag errors of the subcommands', () => {
  it.each([['status'], ['check'], ['bundle']])('`%s --bogus` reads "siem-agent: unknown option", like the main command (README: Bad input)', async (cmd) => {
    const res = await runAgent([cmd, '--bogus']);
    expect(res.code).toBe(1);
    expect(res.stderr.split('\n')[0]).toBe("siem-agent: unknown option '--bogus'");
  });
});

// ---------------------------------------------------------------------------------------------
// Correct behaviour not covered elsewhere (pins)

describe('signals at other moments (pins)', () => {
  it('SIGTERM during a 60 s Retry-After wait: stops at once, exit 1, interrupted, lock released; the next runs deliver every log exactly once', async () => {
    const s = setup(['--page_size', '100']);
    emu.setFaults([{ type: 'http429', onlyPaged: true, retryAfter: 60 }]);
    let res: AgentResult;
    let took: number;
    try {
      const a = startAgent(s.args);
      for (let i = 0; i < 100 && !/answered 429/.test(readLog(s.log)); i++) await sleep(50);
      expect(readLog(s.log)).toMatch(/answered 429/);
      const t0 = Date.now();
      a.child.kill('SIGTERM');
      res = await a.done;
      took = Date.now() - t0;
    } finally {
      emu.setFaults([]);
    }
    expect(res.code).toBe(1);
    expect(took).toBeLessThan(3000);
    expect(existsSync(join(s.dir, 'export_log.lock'))).toBe(false);
    expect((JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8')) as { result: string }).result).toBe('interrupted');
    const st = await runAgent(['status', '--config', s.config]);
    expect(st.code).toBe(1);
    expect(st.stdout).toMatch(/the last run interrupted: forcefully shut down \(SIGTERM\)/);
    await untilCaughtUp(s.args, s.log);
    const ids = idsOf(jsonLinesAfterKills(s.out));
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(allIds()));
  }, 60_000);

  it('SIGTERM at random instants (start-up, fetch, write, commit), eight times: every log exactly once', async () => {
    const s = setup(['--page_size', '50']);
    emu.setLatency(20);
    try {
      for (let i = 0; i < 8; i++) {
        const a = startAgent(s.args);
        await sleep(150 + Math.random() * 450);
        a.child.kill('SIGTERM');
        const r = await a.done;
        expect([0, 1, null]).toContain(r.code); // null: killed before the handlers were installed; 0: done before the signal
      }
    } finally {
      emu.setLatency(0);
    }
    await untilCaughtUp(s.args, s.log);
    const ids = idsOf(jsonLinesAfterKills(s.out));
    expect(ids.length - new Set(ids).size, 'logs delivered twice after clean stops').toBe(0);
    expect(new Set(ids)).toEqual(new Set(allIds()));
  }, 90_000);

  it('SIGHUP (a terminal closed under a manual run): the lock does not block the next run, status says the run died, nothing lost', async () => {
    const s = setup(['--page_size', '100']);
    emu.setLatency(200);
    try {
      const a = startAgent(s.args);
      for (let i = 0; i < 100 && !stateOf(s.dir)?.apps.Investigate; i++) await sleep(50);
      a.child.kill('SIGHUP');
      const r = await a.done;
      expect(r.code === 1 || r.signal === 'SIGHUP').toBe(true);
    } finally {
      emu.setLatency(0);
    }
    const st = await runAgent(['status', '--config', s.config]);
    expect(st.code).toBe(1);
    expect(st.stdout).toMatch(/died without finishing|interrupted/);
    const next = await runAgent(s.args);
    expect(next.code, next.stderr).toBe(0);
    expect(readLog(s.log)).not.toMatch(/Another instance/);
    await untilCaughtUp(s.args, s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const id of allIds()) expect(counts.get(id) ?? 0, id).toBeGreaterThan(0);
  }, 60_000);
});

describe('cron\'s environment (pins)', () => {
  it.skipIf(!existsSync('/usr/bin/node'))('env -i PATH=/usr/bin:/bin, no HOME, no TTY, umask 077, cwd /: runs, silent on success, files private', async () => {
    const s = setup(['--max_logs', '30']);
    const res = await run('sh', ['-c', `umask 077 && exec ${BIN} ${s.args.join(' ')} </dev/null`], { cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    expect(res).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(jsonLinesAfterKills(s.out).length).toBe(60);
    for (const f of ['out.json', 'export_log.state', 'last_job.status', 'agent.log']) {
      expect(execFileSync('stat', ['-c', '%a', join(s.dir, f)], { encoding: 'utf8' }).trim(), f).toBe('600');
    }
  });
});

describe.skipIf(!canMount)('the agent\'s own log on a full or read-only disk (pins)', () => {
  it.each([['full', 'size=64k'], ['read-only', 'ro,size=64k']])('%s: the run delivers everything, exit 0, one line on stderr', async (_n, opts) => {
    const s = setup(['--max_logs', '40']);
    await withTmpfs(s.dir, 'lg', opts, async (lg) => {
      if (!opts.startsWith('ro')) fill(lg);
      const res = await runAgent([...s.args, '--log_file', join(lg, 'agent.log')]);
      expect(res.code).toBe(0);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/cannot write the agent log .*\((ENOSPC|EROFS)\); continuing without it/);
      expect(jsonLinesAfterKills(s.out).length).toBe(80);
      expect((JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8')) as { result: string }).result).toBe('ok');
    });
  });
});
