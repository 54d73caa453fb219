// Walkthrough, session 5: a newcomer follows today's README changes (987d7b9..HEAD) literally and
// holds each sentence where the agent does otherwise against it. Every test here quotes the README
// sentence it checks and fails while the agent (or the way README says to run it) disagrees.
// Real processes only: bin/siem-agent as a child (as cron would run it), the project's emulator in
// this process. The file/permission tests need root; they create users named w6-wt-* and remove
// them in afterAll.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/types.js';
import { BIN, runAgent, tmp } from '../helpers/agent.js';
import { fixtures, iso, mk } from '../helpers/raw-api.js';
import { clockShim } from '../helpers/clock.js';

const fx = fixtures();
afterEach(() => fx.closeAll());
afterAll(() => fx.closeAll());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canUsers = isRoot && has('runuser') && has('useradd') && has('groupadd');

// the service user (install.sh's `siem-agent`, with a group of its own), a forwarder's own group
// (Splunk UF's `splunk`) and the forwarder's user in it
const SVC = 'w6-wt-svc';
const FWD_GROUP = 'w6-wt-splunk';
const FWD = 'w6-wt-fwd';
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
function removeUsers() {
  quiet('userdel', [FWD]);
  quiet('userdel', [SVC]);
  quiet('groupdel', [FWD_GROUP]);
  quiet('groupdel', [SVC]);
}
beforeAll(() => {
  if (!canUsers) return;
  removeUsers(); // left over by an interrupted run of this file
  execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', SVC]);
  execFileSync('groupadd', ['-r', FWD_GROUP]);
  execFileSync('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', '-g', FWD_GROUP, FWD]);
});
afterAll(() => {
  if (canUsers) removeUsers();
});

const uidOf = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
const gidOf = (g: string) => Number(execFileSync('getent', ['group', g], { encoding: 'utf8' }).split(':')[2]);

/** Detect logs an hour old and older (past --ingest_delay), `n` of them, each line ~`pad` bytes longer. */
function logs(n: number, pad = 0): LogRecord[] {
  const t = Date.now() - 3_600_000;
  return Array.from({ length: n }, (_, i) => mk(`w6-${String(i).padStart(4, '0')}`, iso(t - (n - i) * 1000), pad ? { message: 'x'.repeat(pad) } : {}));
}


/** Byte lengths of a CEF line's header fields (escapes as written). */
function cefHeaderFields(line: string): string[] {
  const m = /^CEF:0\|((?:\\.|[^\\|])*)\|((?:\\.|[^\\|])*)\|((?:\\.|[^\\|])*)\|((?:\\.|[^\\|])*)\|((?:\\.|[^\\|])*)\|(\d+)\|/.exec(line);
  if (!m) throw new Error(`not a CEF line: ${line.slice(0, 120)}`);
  return m.slice(1, 6);
}

describe('README, Every flag, -p: "A password given with -p is visible to every local user in ps (/proc/PID/cmdline) until the agent has started (it then masks it in its process title)"', () => {
  it('run as cron runs the job line install.sh writes (/bin/sh -c "... >/dev/null"), the password is still in ps after the agent has started and masked its title', async () => {
    const emu = await fx.emulator(logs(60));
    const dir = tmp('w6-pw-');
    const cfg = emu.configFile(dir);
    const SECRET = 'W6-proxy-pw-in-ps-Zq81';
    // the job line as install.sh writes it (cron(8): SHELL -c "command"), -u/-p in --flags; the
    // proxy is bypassed for the loopback emulator (NO_PROXY), as a local API would be
    const job = `exec ${BIN} --config ${cfg} --elastica_app detect --severity all -o FILE -f ${join(dir, 'out.cef')} --log_file ${join(dir, 'agent.log')} --rate 20 -u agent -p ${SECRET} >/dev/null`;
    const child = spawn('/bin/sh', ['-c', job], {
      env: { ...process.env, HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1', http_proxy: '', https_proxy: '', no_proxy: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const done = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    const cmdlines = () => {
      const out: { pid: string; cmd: string }[] = [];
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
        } catch { /* gone */ }
      }
      return out.filter((c) => c.cmd.includes(cfg));
    };
    // wait until the agent has started: its own title shows -p *** (masked)
    let seen: { pid: string; cmd: string }[] = [];
    for (let i = 0; i < 100; i++) {
      seen = cmdlines();
      if (seen.some((c) => c.cmd.startsWith('siem-agent ') && c.cmd.includes('-p ***'))) break;
      await sleep(50);
    }
    expect(seen.some((c) => c.cmd.includes('-p ***')), `the agent never showed a masked title: ${JSON.stringify(seen)}`).toBe(true);
    await sleep(300);
    const leaking = cmdlines().filter((c) => c.cmd.includes(SECRET));
    const code = await done;
    expect(code, stderr).toBe(0);
    // what happens: the shell cron starts stays the agent's parent for the whole run (a command
    // with a redirection is not exec'd, by dash or bash), and its command line is the whole job line
    expect(leaking, 'processes showing the -p password to every local user after the agent started').toEqual([]);
  }, 30_000);
});

describe.skipIf(!canUsers)('README, FILE output and a forwarder monitoring the file: setgid directory and rotation', () => {
  // "To keep the forwarder's own group instead, give the output directory that group and the setgid
  // bit (sudo chgrp splunk /var/log/siem-agent && sudo chmod 2750 /var/log/siem-agent): every file
  // created there, the agent's rotations too, then has that group. A rotation (--max_bytes) gives
  // the new file the mode (and, in a run as root, the owner and group) the old one had"
  it('after chgrp + chmod 2750 on a directory the agent already writes to, the file a rotation creates has the directory\'s group (the forwarder can read it)', async () => {
    const emu = await fx.emulator(logs(120, 150));
    const base = tmp('w6-sgid-');
    chmodSync(base, 0o755);
    // as install.sh leaves them: /etc/siem-agent (config, state) and /var/log/siem-agent, the service user's
    const etc = join(base, 'etc');
    const logDir = join(base, 'log');
    mkdirSync(etc, { mode: 0o750 });
    mkdirSync(logDir, { mode: 0o750 });
    chownSync(etc, uidOf(SVC), 0);
    chownSync(logDir, uidOf(SVC), gidOf(SVC));
    const cfg = emu.configFile(etc);
    chownSync(cfg, uidOf(SVC), gidOf(SVC));
    const out = join(logDir, 'events.cef');
    const args = ['--config', cfg, '--elastica_app', 'detect', '--severity', 'all', '-o', 'FILE', '-f', out, '--max_bytes', '6000', '--backup_count', '3', '--log_file', join(logDir, 'agent.log')];
    const asSvc = { via: ['runuser', '-u', SVC, '--'] }; // startAgent appends BIN
    // the agent has been running for a while (cron)
    const first = await runAgent(args, asSvc);
    expect(first.code, first.stderr).toBe(0);
    expect(statSync(out).gid).toBe(gidOf(SVC));
    // then the admin follows README to let the forwarder read with its own group
    execFileSync('chgrp', [FWD_GROUP, logDir]);
    execFileSync('chmod', ['2750', logDir]);
    const before = statSync(out).ino;
    // the next runs rotate (-r: the same logs again, enough for several rotations)
    const second = await runAgent([...args, '-r'], asSvc);
    expect(second.code, second.stderr).toBe(0);
    const inode = statSync(out);
    expect(inode.ino, 'the second run rotated: events.cef is a file it created').not.toBe(before);
    const readable = spawnSync('runuser', ['-u', FWD, '--', 'head', '-c', '1', out], { stdio: 'ignore' }).status === 0;
    // what happens: the rotation gives the new file the old file's group (the service user's own),
    // in a run that is not root's too, so the forwarder (group splunk) cannot open what is written next
    expect({ group: inode.gid, forwarderReads: readable }).toEqual({ group: gidOf(FWD_GROUP), forwarderReads: true });
  }, 30_000);
});

describe('README, Exactly once: how, clocks: "A Date more than a day from this host\'s clock is ignored, with a warning"', () => {
  it('a host clock 25 h behind the API\'s: the first run says something about the clock or the Date header, not only the API\'s retention 400', async () => {
    const emu = await fx.emulator(logs(5));
    const dir = tmp('w6-clk-');
    const cfg = emu.configFile(dir);
    const args = ['--config', cfg, '--elastica_app', 'detect', '--severity', 'all', '-o', 'FILE', '-f', join(dir, 'out.json'), '--format', 'json', '--log_file', join(dir, 'agent.log')];
    const env = { NODE_OPTIONS: `--require ${clockShim()}`, SA_CLOCK_OFFSET_MS: String(-25 * 3_600_000) };
    const runs = [await runAgent(args, { env }), await runAgent(args, { env })];
    for (const r of runs) {
      // what happens: exit 1, every run, with only
      // "ERROR: API rejected the request for Detect page 1 (400 Bad Request): created_timestamp is older than the retention period. Exiting!"
      // (the Date header is more than a day off, so no clamp; the clock check runs on pages only)
      expect(r.stderr, `exit ${r.code}`).toMatch(/Date header|clock/i);
    }
  }, 30_000);
});

describe.skipIf(!isRoot)('README, Every flag, check: "opens the output (FILE: checks that the file, or the nearest existing directory above it, is writable ...)"; "one OK/FAIL line per step"', () => {
  it('check run as root on a -f that is a symbolic link another user made says FAIL, as the run then fails ("output file ...: cannot write (... is a symbolic link owned by uid ..., neither this user nor root: not followed)")', async () => {
    const emu = await fx.emulator(logs(3));
    const dir = tmp('w6-chk-');
    const cfg = emu.configFile(dir);
    const logDir = join(dir, 'log');
    mkdirSync(logDir);
    const target = join(dir, 'somewhere-else');
    const out = join(logDir, 'cloudsoc.cef');
    symlinkSync(target, out);
    lchownSync(out, 54_321, 54_321); // planted by the service user (any uid but root's and this run's)
    const flags = ['--config', cfg, '--elastica_app', 'detect', '--severity', 'all', '-o', 'FILE', '-f', out, '--log_file', join(dir, 'agent.log')];
    const run = await runAgent(flags);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is a symbolic link owned by uid 54321, neither this user nor root: not followed');
    const check = await runAgent(['check', ...flags]);
    // what happens: "OK   output: FILE .../cloudsoc.cef writable", exit 0, while the same run as root fails
    expect(check.stdout).toMatch(/FAIL\s+output/);
    expect(check.code, check.stdout).toBe(1);
  }, 30_000);
});

describe('README, Oversized events: "--max_message_size bounds the formatted event (without the syslog header)"', () => {
  it('CEF: "The two free-text header fields are capped at 128 characters and, with --max_message_size, at a quarter of it in bytes": a header of backslashes and pipes stays within 128 bytes a field, and the line within 512', async () => {
    const t = Date.now() - 3_600_000;
    const emu = await fx.emulator([mk('w6-hdr', iso(t), { activity_type: '|'.repeat(128), name: '\\'.repeat(128) })]);
    const dir = tmp('w6-cefhdr-');
    const out = join(dir, 'out.cef');
    const r = await runAgent(['--config', emu.configFile(dir), '--elastica_app', 'detect', '--severity', 'all', '-o', 'FILE', '-f', out, '--max_message_size', '512', '--log_file', join(dir, 'agent.log')]);
    expect(r.code, r.stderr).toBe(0);
    const line = readFileSync(out, 'utf8').split('\n')[0]!;
    const [, , , sigId, name] = cefHeaderFields(line);
    // what happens: the quarter is counted before escaping: each field is 256 bytes as written
    // (\| and \\), and the event 694 bytes
    const bytes = { sigId: Buffer.byteLength(sigId!), name: Buffer.byteLength(name!) };
    expect(Math.max(bytes.sigId, bytes.name), JSON.stringify(bytes)).toBeLessThanOrEqual(512 / 4);
    expect(Buffer.byteLength(line), line).toBeLessThanOrEqual(512);
  }, 30_000);

  it('LEEF: an event id of 128 CJK characters (384 bytes) with --max_message_size 512: the event stays within 512 bytes', async () => {
    const t = Date.now() - 3_600_000;
    const emu = await fx.emulator([mk('w6-leefhdr', iso(t), { activity_type: '名'.repeat(128) })]);
    const dir = tmp('w6-leefhdr-');
    const out = join(dir, 'out.leef');
    const r = await runAgent(['--config', emu.configFile(dir), '--elastica_app', 'detect', '--severity', 'all', '--format', 'leef', '-o', 'FILE', '-f', out, '--max_message_size', '512', '--log_file', join(dir, 'agent.log')]);
    expect(r.code, r.stderr).toBe(0);
    const line = readFileSync(out, 'utf8').split('\n')[0]!;
    // what happens: 574 bytes; LEEF caps its header at 128 characters only, with no byte share of
    // --max_message_size as CEF has (the same `|` in an event id becomes U+FFFD: 3 bytes each)
    expect(Buffer.byteLength(line), line).toBeLessThanOrEqual(512);
  }, 30_000);

  it('CEF: "externalId/rt/_id/created_timestamp and the header are never cut" and "(externalId 40 characters ...) is written there capped ... and in full as ad.<field>, so a connector that cuts it loses nothing": an 84-character _id is whole in the event', async () => {
    const t = Date.now() - 3_600_000;
    const id = `evt-${'0123456789abcdef'.repeat(5)}`;
    const emu = await fx.emulator([mk(id, iso(t), { message: 'm'.repeat(400), user: 'u'.repeat(100), object_type: 'o'.repeat(80), name: 'n'.repeat(80) })]);
    const dir = tmp('w6-cefid-');
    const out = join(dir, 'out.cef');
    const r = await runAgent(['--config', emu.configFile(dir), '--elastica_app', 'detect', '--severity', 'all', '-o', 'FILE', '-f', out, '--max_message_size', '512', '--log_file', join(dir, 'agent.log')]);
    expect(r.code, r.stderr).toBe(0);
    const line = readFileSync(out, 'utf8').split('\n')[0]!;
    // what happens: externalId holds 39 characters and …, and ad._id, the only place with the
    // whole id since the 40-character cap, is shortened like any long value (ad._id=evt-0123456789abcdef0…)
    expect(line).toContain(id);
  }, 30_000);
});
