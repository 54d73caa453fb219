// The FILE and SYSLOG outputs at the edges (from an audit; each failing case failed before its fix): each test states the promise it checks (README "Outputs",
// "Exactly once: how", "Local syslog daemon limits"). Private daemons only, temp dirs.
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { LogRecord } from '../../src/types.js';
import { startRsyslog, type Daemon } from '../helpers/daemons.js';
import { BIN, runAgent, startAgent, stateOf, tmp } from '../helpers/agent.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const daemons: Daemon[] = [];
const emus: Emulator[] = [];
afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await Promise.all(emus.map((e) => e.close()));
});
const track = (d: Daemon) => { daemons.push(d); return d; };
async function emulator(counts: { Investigate: number; Detect: number }, extra: Record<string, unknown> = {}): Promise<Emulator> {
  const e = await startEmulator({ data: { seed: 31, counts, tieGroupSize: 1, hostile: false, ...extra } });
  emus.push(e);
  return e;
}

/** The logs the stored marker says were delivered. */
function covered(e: Emulator, dir: string, app: 'Investigate' | 'Detect'): LogRecord[] {
  const m = stateOf(dir)?.apps[app];
  if (!m) return [];
  const t = Date.parse(m.timestamp);
  return e.logs[app].filter((r) => Date.parse(r.created_timestamp) < t || (Date.parse(r.created_timestamp) === t && m.ids.includes(r._id)));
}

/** ids in every FILE output file (PATH, PATH.1 ...) in dir. */
function idsOnDisk(dir: string, base: string): Set<string> {
  const ids = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.startsWith(base))) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
      try { ids.add((JSON.parse(l) as LogRecord)._id); } catch { /* fragment */ }
    }
  }
  return ids;
}

/** The ids in what a daemon received (local syslog header + JSON). */
function idsReceived(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = /siem-agent\[\d+\]: (\{.*\})$/.exec(l);
    if (m) out.push((JSON.parse(m[1]!) as LogRecord)._id);
  }
  return out;
}

describe('FILE: the output file removed during a run (logrotate with compress, or rm)', () => {
  it('a file removed during a run: the run stops at the next page, and every checkpointed log is in a file on disk after the next run', async () => {
    const e = await emulator({ Investigate: 300, Detect: 0 });
    const dir = tmp('sa-fse-');
    const out = join(dir, 'out.json');
    const run = startAgent(['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'investigate', '-o', 'FILE', '-f', out, '--page_size', '50', '--rate', '100']);
    // wait until the run has written something, then remove the file as logrotate's compress step does
    for (let i = 0; i < 100 && !(existsSync(out) && statSync(out).size > 0); i++) await sleep(50);
    await sleep(300);
    const before = new Set(readFileSync(out, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => (JSON.parse(l) as LogRecord)._id));
    unlinkSync(out);
    const res = await run.done;
    // the run notices at the page's confirmation, stops with one line and checkpoints nothing more
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/out\.json was removed during the run/);
    // the next run (cron's) writes the unconfirmed logs again, to the file now at PATH
    const again = await runAgent(['--config', join(dir, 'config.json'), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'investigate', '-o', 'FILE', '-f', out, '--page_size', '50']);
    expect(again.code, again.stderr).toBe(0);
    const onDisk = idsOnDisk(dir, 'out.json');
    // logs written before the unlink went with it (a forwarder had read them); those written after
    // went into the deleted inode and were checkpointed all the same
    const lost = covered(e, dir, 'Investigate').filter((r) => !onDisk.has(r._id) && !before.has(r._id));
    expect(lost.length, `${lost.length} logs written after the unlink are checkpointed and in no file (${before.size} were in the file when it was removed); files now: ${readdirSync(dir).join(',')}`).toBe(0);
  }, 30_000);
});

describe('FILE: a full disk', () => {
  it('never shortens the output file (a tailing forwarder must only see growth)', async () => {
    const e = await emulator({ Investigate: 300, Detect: 0 }, { valueBytes: 2000 });
    const dir = tmp('sa-fse-');
    const mnt = join(dir, 'small');
    execFileSync('mkdir', [mnt]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300k', 'tmpfs', mnt]);
    try {
      const out = join(mnt, 'out.json');
      const trace = join(dir, 'strace.txt');
      const args = ['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
        '--elastica_app', 'investigate', '-o', 'FILE', '-f', out, '--page_size', '100'];
      const child = spawn('strace', ['-f', '-e', 'trace=openat,ftruncate', '-o', trace, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code, stderr).toBe(1);
      expect(stderr).toMatch(/disk full/);
      const lines = readFileSync(trace, 'utf8').split('\n');
      const fd = lines.map((l) => new RegExp(`openat\\(.*"${out}".* = (\\d+)`).exec(l)).find(Boolean)?.[1];
      const cuts = lines.filter((l) => fd && new RegExp(`ftruncate\\(${fd}, \\d+\\)`).test(l));
      expect(cuts, `the output file was cut back: ${cuts.join(' | ')}`).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 30_000);
});

describe('FILE rotation (checks)', () => {
  it('a cut line left by a killed run, then rotation with --backup_count 1: the fragment is ended, no line split', async () => {
    const e = await emulator({ Investigate: 0, Detect: 40 });
    const dir = tmp('sa-fse-');
    const out = join(dir, 'out.json');
    const frag = '{"_id":"a","created_timestamp":"2026-01-01T00:00:00.000Z"}\n{"_id":"cut-he';
    writeFileSync(out, frag, { mode: 0o644 });
    chmodSync(out, 0o644);
    const res = await runAgent(['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'detect', '-o', 'FILE', '-f', out, '--max_bytes', '100', '--backup_count', '1']);
    expect(res.code, res.stderr).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('out.json')).sort()).toEqual(['out.json', 'out.json.1']);
    for (const f of ['out.json', 'out.json.1']) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text.endsWith('\n'), f).toBe(true);
      for (const l of text.split('\n').slice(0, -1)) if (!frag.includes(l)) JSON.parse(l);
    }
    // max_bytes below one line: one line per file, the newest last
    expect(readFileSync(out, 'utf8').split('\n')).toHaveLength(2);
    // the new file has the mode the file had (logrotate's create does the same): here the test's own 0644
    expect(statSync(out).mode & 0o777).toBe(0o644);
  });
});

describe('SYSLOG: the daemon restarted mid-page', () => {
  it('with rsyslog\'s classic 200/5 s limit and the default --rate, a restart mid-page loses no log (the re-send must be paced too)', async () => {
    const e = await emulator({ Investigate: 300, Detect: 0 });
    const dir = tmp('sa-fse-');
    const sock = join(dir, 'log.sock');
    const d = track(await startRsyslog({ kind: 'unix-dgram', path: sock, rateLimit: { interval: 5, burst: 200 } }));
    const run = startAgent(['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'investigate', '-o', 'SYSLOG', '-t', sock, '--page_size', '300']);
    // 30 logs/s: about 240 of the page's 300 are out after 8 s
    for (let i = 0; i < 200 && idsReceived(d.readLines()).length < 235; i++) await sleep(50);
    await d.restart();
    const res = await run.done;
    expect(res.code, res.stderr).toBe(0);
    const ids = idsReceived(await d.waitForLines(300, 8_000));
    const got = new Set(ids);
    const missing = e.logs.Investigate.filter((r) => !got.has(r._id)).length;
    const dropped = readFileSync(d.outFile, 'utf8').split('\n').filter((l) => /rate-?limit/i.test(l));
    expect(missing, `${missing} of 300 logs never arrived (${ids.length} lines received); rsyslog: ${dropped.join(' | ').slice(0, 300)}`).toBe(0);
  }, 60_000);

  it('a daemon that dies with our datagrams still queued and stays down: the marker must not cover them', async () => {
    const e = await emulator({ Investigate: 100, Detect: 0 });
    const dir = tmp('sa-fse-');
    const sock = join(dir, 'log.sock');
    const d = track(await startRsyslog({ kind: 'unix-dgram', path: sock }));
    const run = startAgent(['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'investigate', '-o', 'SYSLOG', '-t', sock, '--page_size', '100', '--reconnect_timeout', '1', '--max_runtime', '20']);
    for (let i = 0; i < 100 && idsReceived(d.readLines()).length < 20; i++) await sleep(50);
    process.kill(d.pid, 'SIGSTOP'); // the daemon hangs: the socket queue fills (back-pressure)
    await sleep(1500);
    const received = new Set(idsReceived(d.readLines()));
    process.kill(d.pid, 'SIGKILL'); // and dies: what is in its queue is gone
    const res = await run.done;
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/not back within 1 s/);
    const lost = covered(e, dir, 'Investigate').filter((r) => !received.has(r._id));
    expect(lost.length, `${lost.length} logs checkpointed that the daemon never received (${received.size} received); marker ${JSON.stringify(stateOf(dir)?.apps.Investigate?.timestamp)}`).toBe(0);
  }, 40_000);
});

describe('SYSLOG: messages larger than the socket allows', () => {
  it('EMSGSIZE fails the run with a clear line, the marker just before the big log, nothing after it sent', async () => {
    const e = await emulator({ Investigate: 0, Detect: 30 }, { bigValue: { app: 'Detect', bytes: 300_000 } });
    const dir = tmp('sa-fse-');
    const sock = join(dir, 'log.sock');
    const d = track(await startRsyslog({ kind: 'unix-dgram', path: sock }));
    const res = await runAgent(['--config', e.configFile(dir), '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'),
      '--elastica_app', 'detect', '-o', 'SYSLOG', '-t', sock, '--max_message_size', '0', '--rate', '2000']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/too large for the socket; lower --max_message_size/);
    const bigRec = e.logs.Detect.find((r) => JSON.stringify(r).length > 200_000)!;
    const cov = covered(e, dir, 'Detect');
    expect(cov.some((r) => r._id === bigRec._id)).toBe(false);
    const got = new Set(idsReceived(await d.waitForLines(cov.length, 5_000)));
    expect(got.size).toBe(cov.length);
    for (const r of cov) expect(got.has(r._id)).toBe(true);
  }, 30_000);
});
