// The agent's promises when the API, the disk, the state or the process misbehave.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { BIN, countIds, idsOf, jsonLines, jsonLinesAfterKills, runAgent, startAgent, stateOf, tmp, readLog, untilCaughtUp } from '../helpers/agent.js';
import { withTmpfs } from '../helpers/tmpfs.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 21, counts: { Investigate: 2500, Detect: 800 }, tieGroupSize: 1200 } });
});
afterAll(() => emu.close());

function setup(extra: string[] = []) {
  const dir = tmp('sa-fault-');
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const args = ['--config', emu.configFile(dir), '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', log, ...extra];
  return { dir, out, log, args };
}

const allIds = () => [...emu.logs.Investigate, ...emu.logs.Detect].map((r) => r._id);
// short timeouts and backoff so the fault tests stay quick
const FAST = ['--request_timeout', '2', '--retries', '4'];


describe('API faults', () => {
  it.each([
    ['5xx with a JSON body', { type: 'http500json', count: 2 }],
    ['502 with an HTML body', { type: 'http502html', count: 2 }],
    ['429 with Retry-After', { type: 'http429', count: 1, retryAfter: 1 }],
    ['a connection reset mid-body', { type: 'reset', count: 2 }],
    ['truncated JSON', { type: 'truncated', count: 2 }],
    ['a 200 that is not JSON', { type: 'notjson', count: 1 }],
    ['JSON without logs', { type: 'nologs', count: 1 }],
    ['a server that never answers', { type: 'hang', count: 1 }],
  ] as const)('%s is retried and the run completes', async (_name, fault) => {
    const s = setup([...FAST, '--elastica_app', 'detect']);
    emu.setFaults([fault as never]);
    try {
      const res = await runAgent(s.args);
      expect(res.code, res.stderr).toBe(0);
      expect(readLog(s.log)).toMatch(/retries [1-9]/);
      expect(jsonLines(s.out).length).toBe(emu.logs.Detect.length);
    } finally {
      emu.setFaults([]);
    }
  });

  it('pages that repeat logs of earlier pages, and a total_count that changes: exactly once', async () => {
    const s = setup(['--page_size', '200', '--elastica_app', 'investigate']);
    // every page after the first repeats logs of the one before (at probability 0.5 a short chain
    // could draw no repeat at all, and the check below then failed by chance)
    emu.setFaults([{ type: 'repeat', onlyPaged: true }, { type: 'totalcount', probability: 0.5 }]);
    try {
      const res = await runAgent(s.args);
      expect(res.code, res.stderr).toBe(0);
      expect(readLog(s.log)).toMatch(/duplicates dropped [1-9]/);
    } finally {
      emu.setFaults([]);
    }
    const ids = idsOf(jsonLines(s.out));
    expect(ids.length).toBe(emu.logs.Investigate.length);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a page of 1,000 logs with 5 KB values and one 10 MB value goes through', async () => {
    const big = await startEmulator({ data: { seed: 9, counts: { Investigate: 1000, Detect: 0 }, valueBytes: 5000, bigValue: { app: 'Investigate', bytes: 10 * 1024 * 1024 }, hostile: false } });
    try {
      const dir = tmp('sa-big-');
      const out = join(dir, 'out.json');
      const res = await runAgent(['--config', big.configFile(dir), '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'a.log')]);
      expect(res.code, res.stderr).toBe(0);
      const lines = jsonLines(out);
      expect(lines.length).toBe(1000);
      expect(Math.max(...lines.map((l) => (l.message as string).length))).toBe(10 * 1024 * 1024);
      // and through a syslog-sized output the 10 MB value is shortened, the run summary counts it
      const res2 = await runAgent(['--config', big.configFile(dir), '-o', 'FILE', '-f', join(dir, 'cut.cef'), '--max_message_size', '8000', '--severity', 'all', '--log_file', join(dir, 'b.log'), '--state_dir', tmp('sa-big2-')]);
      expect(res2.code, res2.stderr).toBe(0);
      expect(readLog(join(dir, 'b.log'))).toMatch(/truncated [1-9]/);
    } finally {
      await big.close();
    }
  });

  it('429 waits for Retry-After', async () => {
    const s = setup([...FAST, '--elastica_app', 'detect']);
    emu.setFaults([{ type: 'http429', count: 1, retryAfter: 2 }]);
    const t0 = Date.now();
    try {
      const res = await runAgent(s.args);
      expect(res.code).toBe(0);
      expect(Date.now() - t0).toBeGreaterThan(1900);
    } finally {
      emu.setFaults([]);
    }
  });

  it.each([
    ['401', 'http401', /check key_id\/key_secret in/],
    ['403', 'http403', /403 Forbidden/],
    ['404', 'http404', /404 Not Found.*tenant/],
    ['400', 'http400', /400 Bad Request/],
  ] as const)('%s is not retried: one line, exit 1, marker untouched', async (_n, type, msg) => {
    const s = setup([...FAST, '--elastica_app', 'detect']);
    emu.setFaults([{ type: type as never }]);
    const n0 = emu.requests.length;
    try {
      const res = await runAgent(s.args);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(msg);
      expect(emu.requests.length - n0).toBe(1);
      expect(stateOf(s.dir)).toBeUndefined();
    } finally {
      emu.setFaults([]);
    }
  });

  it('retries spent: exit 1 with everything delivered so far checkpointed', async () => {
    const s = setup(['--request_timeout', '2', '--retries', '1', '--elastica_app', 'investigate', '--page_size', '500']);
    emu.setFaults([{ type: 'http503', onlyPaged: true }]);
    try {
      const res = await runAgent(s.args);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/gave up after 2 attempts/);
      const got = jsonLines(s.out).length;
      expect(got).toBe(500);
      expect(stateOf(s.dir)!.apps.Investigate!.ids.length).toBeGreaterThan(0);
    } finally {
      emu.setFaults([]);
    }
    await untilCaughtUp(s.args, s.log);
    expect(countIds(idsOf(jsonLines(s.out))).size).toBe(jsonLines(s.out).length);
  });

  it('a mix of every fault over repeated runs delivers every log exactly once', async () => {
    const s = setup([...FAST, '--page_size', '300', '--max_logs', '900']);
    emu.setFaults([
      { type: 'http500json', probability: 0.08 }, { type: 'http502html', probability: 0.05 }, { type: 'http429', probability: 0.05, retryAfter: 1 },
      { type: 'reset', probability: 0.05 }, { type: 'truncated', probability: 0.05 }, { type: 'repeat', probability: 0.3 },
      { type: 'totalcount', probability: 0.3 }, { type: 'hang', probability: 0.02 },
    ]);
    try {
      for (let i = 0; i < 25; i++) await runAgent(s.args);
    } finally {
      emu.setFaults([]);
    }
    await untilCaughtUp(s.args, s.log);
    const ids = idsOf(jsonLines(s.out));
    expect(ids.length).toBe(allIds().length);
    expect(new Set(ids)).toEqual(new Set(allIds()));
  }, 180_000);

  it('--max_runtime stops cleanly with everything delivered checkpointed', async () => {
    const s = setup(['--page_size', '100', '--max_runtime', '3']);
    emu.setLatency(250);
    try {
      const t0 = Date.now();
      const res = await runAgent(s.args);
      expect(res.code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(res.stderr).toMatch(/stopped at --max_runtime/);
    } finally {
      emu.setLatency(0);
    }
    const delivered = jsonLines(s.out).length;
    expect(delivered).toBeGreaterThan(0);
    await untilCaughtUp(s.args, s.log);
    expect(new Set(idsOf(jsonLines(s.out))).size).toBe(jsonLines(s.out).length);
  });
});

describe('bad log field values from the API', () => {
  const good = (n: number) => Array.from({ length: n }, (_, i) => ({ _id: `g${i}`, created_timestamp: `2026-11-20T10:00:0${i}.000Z`, severity: 'high', service: 'Box' }));
  /** Detect in pages of 3 to a JSON file; the bad log is on page 2, after g0-g2. */
  async function runInThrees(emu2: Emulator): Promise<{ res: Awaited<ReturnType<typeof runAgent>>; dir: string; out: string; args: string[] }> {
    const dir = tmp('sa-badrec-');
    const out = join(dir, 'o.json');
    const args = ['--config', emu2.configFile(dir), '-o', 'FILE', '-f', out, '--format', 'json', '--elastica_app', 'detect', '--page_size', '3', '--log_file', join(dir, 'a.log')];
    return { res: await runAgent(args), dir, out, args };
  }
  /** One clear line, exit 1, g0-g2 delivered and the marker at g2. */
  function expectStoppedAfterG2(r: Awaited<ReturnType<typeof runInThrees>>, msg: RegExp): void {
    expect(r.res.code).toBe(1);
    expect(r.res.stderr).toMatch(msg);
    expect(r.res.stderr.trim().split('\n'), r.res.stderr).toHaveLength(1);
    expect(idsOf(jsonLines(r.out))).toEqual(['g0', 'g1', 'g2']);
    expect(stateOf(r.dir)!.apps.Detect).toMatchObject({ timestamp: '2026-11-20T10:00:02.000Z', ids: ['g2'] });
  }

  it.each([
    ['no _id', { created_timestamp: '2026-11-20T10:00:05.000Z' }, /log #\d+ has no _id/],
    ['a created_timestamp that is not a time', { _id: 'bad-ts', created_timestamp: 'yesterday' }, /log "bad-ts" has no valid created_timestamp/],
  ])('%s: one clear line, exit 1, the marker at the last good log before it', async (_n, bad, msg) => {
    const g = good(5);
    const emu2 = await startEmulator({ data: { Investigate: [], Detect: [...g.slice(0, 3), { severity: 'high', service: 'Box', ...bad } as never, ...g.slice(3)] } });
    try {
      expectStoppedAfterG2(await runInThrees(emu2), msg);
    } finally {
      await emu2.close();
    }
  });

  it('a log that is not JSON inside a well-formed page: the same, and not retried', async () => {
    // pages are parsed log by log only when they are taken (src/source/page-json.ts): the page
    // itself is well-formed, so this is a bad log, like one without an _id, not a bad body
    const g = good(6);
    const emu2 = await startEmulator({ data: { Investigate: [], Detect: g } });
    emu2.setFaults([{ type: 'badlog', onlyPaged: true, count: 1 }]);
    try {
      const r = await runInThrees(emu2);
      expectStoppedAfterG2(r, /API Detect page 2: log #1 is not valid JSON\b/);
      expect(readLog(join(r.dir, 'a.log'))).not.toMatch(/retry/);
      expect(emu2.requests.filter((q) => q.query.offset === '3')).toHaveLength(1);
      // the fault was one response: the next run delivers the rest
      expect((await runAgent(r.args)).code).toBe(0);
      expect(idsOf(jsonLines(r.out))).toEqual(g.map((x) => x._id));
    } finally {
      await emu2.close();
    }
  });
});

describe('a hang nothing else can cut', () => {
  it('a proxy that never completes CONNECT: the run still ends, exit 1, within --max_runtime + 10 s', async () => {
    const s = setup(['--request_timeout', '1', '--retries', '1', '--max_runtime', '2']);
    // the emulator has no CONNECT handler: undici's tunnel attempt neither times out nor aborts
    const t0 = Date.now();
    const res = await runAgent([...s.args, '--proxy', `127.0.0.1:${emu.port}`]);
    expect(res.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(readLog(s.log)).toMatch(/reached --max_runtime 2 s, but the run did not stop within 10 s .*forcing exit/);
    expect(stateOf(s.dir)).toBeUndefined();
    // and the next run is not blocked by a lock
    const next = await runAgent([...s.args, '--max_runtime', '60']);
    expect(next.code, next.stderr).toBe(0);
  }, 40_000);
});

describe('process faults', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s mid-run: flush, checkpoint, release the lock, exit 1', async (sig) => {
    const s = setup(['--page_size', '100']);
    emu.setLatency(100);
    try {
      const a = startAgent(s.args);
      await new Promise((r) => setTimeout(r, 1200));
      a.child.kill(sig);
      const res = await a.done;
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/forcefully shut down/);
      expect(existsSync(join(s.dir, 'export_log.lock'))).toBe(false);
      const st = JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8'));
      expect(st.result).toBe('interrupted');
    } finally {
      emu.setLatency(0);
    }
    const first = jsonLines(s.out).length;
    expect(first).toBeGreaterThan(0);
    await untilCaughtUp(s.args, s.log);
    const ids = idsOf(jsonLines(s.out));
    expect(new Set(ids).size).toBe(ids.length); // a clean stop re-sends nothing
    expect(new Set(ids)).toEqual(new Set(allIds()));
  });

  it('SIGKILL at 30 random instants: nothing lost, at most one page per app per kill re-sent; FILE fsync per page', async () => {
    const pageSize = 150;
    const s = setup(['--page_size', String(pageSize)]);
    emu.setLatency(10);
    const kills = 30;
    try {
      for (let i = 0; i < kills; i++) {
        const a = startAgent(s.args);
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
        a.child.kill('SIGKILL');
        await a.done;
        // what the marker says was delivered must be in the file right after the kill (fsync before commit)
        const st = stateOf(s.dir);
        const inFile = new Set(idsOf(jsonLinesAfterKills(s.out)));
        for (const m of Object.values(st?.apps ?? {})) for (const id of m.ids) expect(inFile.has(id), `marker id ${id} not in the file`).toBe(true);
      }
    } finally {
      emu.setLatency(0);
    }
    // The last killed run's lock: -c takes it at once when last_job.status shows that run with its
    // pid gone. A kill between taking the lock and writing the status (after a run that ended ok)
    // leaves a fresh lock no status explains: a live run's for all anyone can tell, so it is taken
    // over only once 30 s old. Age it as 30 s would.
    const lock = join(s.dir, 'export_log.lock');
    const old = new Date(Date.now() - 31_000);
    if (existsSync(lock)) utimesSync(lock, old, old);
    await untilCaughtUp([...s.args, '-c'], s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const id of allIds()) expect(counts.get(id) ?? 0, `log ${id} lost`).toBeGreaterThan(0);
    const dupes = [...counts.values()].reduce((a, n) => a + n - 1, 0);
    expect(dupes).toBeLessThanOrEqual(kills * pageSize * 2);
  }, 180_000);
});

describe('prefetch', () => {
  it('a kill while a page is fetched ahead loses nothing: the prefetched page is never checkpointed', async () => {
    const s = setup(['--page_size', '50', '--rate', '100', '--elastica_app', 'investigate']);
    const n0 = emu.requests.length;
    const a = startAgent(s.args);
    await new Promise((r) => setTimeout(r, 1500));
    a.child.kill('SIGKILL');
    await a.done;
    const fetched = emu.requests.slice(n0).filter((r) => r.path.includes('/logs/get/')).length;
    const written = jsonLinesAfterKills(s.out);
    const pagesWritten = Math.ceil(written.length / 50);
    expect(fetched).toBeGreaterThan(pagesWritten); // the next page was fetched while this one was written
    const m = stateOf(s.dir)!.apps.Investigate!;
    const inFile = new Set(idsOf(written));
    for (const id of m.ids) expect(inFile.has(id)).toBe(true);
    const lastWritten = Math.max(...written.map((l) => Date.parse(l.created_timestamp as string)));
    expect(Date.parse(m.timestamp)).toBeLessThanOrEqual(lastWritten);
    await untilCaughtUp([...s.args.filter((a2) => a2 !== '--rate' && a2 !== '100'), '-c'], s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const r of emu.logs.Investigate) expect(counts.get(r._id) ?? 0, r._id).toBeGreaterThan(0);
  }, 60_000);
});

describe('FILE durability', () => {
  // Reading the file after a SIGKILL (above) proves write-before-commit, but the page cache keeps
  // unsynced data across a process kill; only the system calls show the fsync. strace -f follows
  // the agent and its libuv threads: every page must be fsync'd once, before the marker moves.
  it('fsyncs the output once per page, and before the marker that covers that page is renamed into place', async () => {
    const s = setup(['--page_size', '100', '--max_logs', '500', '--elastica_app', 'investigate']);
    const trace = join(s.dir, 'strace.txt');
    // asynchronously: the emulator answers from this very process
    const child = spawn('strace', ['-f', '-e', 'trace=openat,fsync,rename,write', '-o', trace, BIN, ...s.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(500);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const outFd = lines.map((l) => new RegExp(`openat\\(AT_FDCWD, "${s.out}", [^)]*O_APPEND[^)]*\\) = (\\d+)`).exec(l)).find(Boolean)?.[1];
    expect(outFd, 'the output file was opened for appending').toBeDefined();
    const pendingFsync = new Map<string, string>(); // pid -> fd of an fsync not finished yet
    let synced = 0;
    let writes = 0;
    const syncedAtCommit: number[] = [];
    for (const l of lines) {
      const pid = l.split(' ')[0]!;
      let m: RegExpExecArray | null;
      if ((m = /fsync\((\d+)\) += 0/.exec(l)) && m[1] === outFd) synced++;
      else if ((m = /fsync\((\d+) <unfinished/.exec(l))) pendingFsync.set(pid, m[1]!);
      else if (/<\.\.\. fsync resumed>\) += 0/.test(l) && pendingFsync.get(pid) === outFd) synced++;
      else if (new RegExp(`write\\(${outFd}, `).test(l)) writes++;
      else if (/rename\(".*\.export_log\.state\.[^"]*", ".*\/export_log\.state"/.test(l)) syncedAtCommit.push(synced);
    }
    expect(writes).toBeGreaterThanOrEqual(5);
    expect(synced).toBe(5); // once per page, not per line
    expect(syncedAtCommit.length).toBe(5);
    syncedAtCommit.forEach((n, k) => expect(n, `marker commit ${k + 1} came before its page's fsync`).toBeGreaterThanOrEqual(k + 1));
  }, 60_000);
});

describe('FILE durability across a rotation', () => {
  // PATH renamed to PATH.1 and a new PATH created: those directory entries must be on disk (an
  // fsync of the directory) before the marker covers lines that live in the new PATH
  it('fsyncs the output directory after each rotation, before the next marker commit', async () => {
    const s = setup(['--page_size', '100', '--max_logs', '500', '--elastica_app', 'investigate']);
    const outDir = join(s.dir, 'out');
    const out = join(outDir, 'o.json');
    const trace = join(s.dir, 'strace.txt');
    const args = [...s.args.map((a) => (a === s.out ? out : a)), '--max_bytes', '60000', '--backup_count', '50'];
    const child = spawn('strace', ['-f', '-e', 'trace=openat,fsync,rename', '-o', trace, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    expect(await new Promise<number | null>((r) => child.on('close', r)), stderr).toBe(0);
    const fdPath = new Map<string, string>();
    const events: string[] = [];
    for (const l of readFileSync(trace, 'utf8').split('\n')) {
      let m: RegExpExecArray | null;
      if ((m = /openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)/.exec(l))) fdPath.set(m[2]!, m[1]!);
      else if ((m = /fsync\((\d+)[ )<]/.exec(l)) && fdPath.get(m[1]!) === outDir) events.push('dir-fsync');
      else if (new RegExp(`rename\\("${out}", "${out}\\.1"\\)`).test(l)) events.push('rotate');
      else if (/rename\(".*\.export_log\.state\.[^"]*", ".*\/export_log\.state"/.test(l)) events.push('commit');
    }
    expect(events.filter((e) => e === 'rotate').length, events.join(' ')).toBeGreaterThanOrEqual(3);
    // after every rotation: a directory fsync before the next commit
    events.forEach((e, i) => {
      if (e !== 'rotate') return;
      const next = events.slice(i + 1);
      const commit = next.indexOf('commit');
      const synced = next.indexOf('dir-fsync');
      expect(synced >= 0 && (commit < 0 || synced < commit), `rotation ${i}: ${events.join(' ')}`).toBe(true);
    });
  }, 60_000);
});

describe('a stale lock', () => {
  it('from a SIGKILLed agent is taken over within seconds (its status names its pid, gone, and the lock stays untouched); one whose status names a live pid blocks runs while fresh and is taken over once 30 s old', async () => {
    const s = setup(['--page_size', '100']);
    emu.setLatency(100);
    try {
      const a = startAgent(s.args);
      await new Promise((r) => setTimeout(r, 800));
      a.child.kill('SIGKILL');
      await a.done;
    } finally {
      emu.setLatency(0);
    }
    const lock = join(s.dir, 'export_log.lock');
    expect(existsSync(lock)).toBe(true);
    // the kill left last_job.status "running" with the dead pid: the next run need not wait
    const lockCopy = join(s.dir, 'lock-copy');
    cpSync(lock, lockCopy, { recursive: true, preserveTimestamps: true });
    const statusCopy = readFileSync(join(s.dir, 'last_job.status'), 'utf8');
    const taken = await runAgent([...s.args, '--max_logs', '1']);
    expect(taken.code, taken.stderr).toBe(0);
    expect(readLog(s.log)).toMatch(/the lock's holder \(pid \d+, started [^)]+\) is gone; taking the lock over/);
    // a status whose pid is alive (reused by another process): only the lock's age can free it
    rmSync(lock, { recursive: true, force: true });
    cpSync(lockCopy, lock, { recursive: true, preserveTimestamps: true });
    const fresh = new Date();
    utimesSync(lock, fresh, fresh);
    writeFileSync(join(s.dir, 'last_job.status'), statusCopy.replace(/"pid":\s*\d+/, `"pid":${process.pid}`));
    const blocked = await runAgent(s.args);
    expect(blocked.code).toBe(0);
    expect(readLog(s.log)).toContain('Another instance is already running.');
    // proper-lockfile judges staleness by the lock's mtime: age it past the 30 s threshold
    const old = new Date(Date.now() - 31_000);
    utimesSync(lock, old, old);
    const res = await runAgent(s.args);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr + readLog(s.log)).toMatch(/did not finish; resuming from the last checkpoint/);
    expect(statusCopy).toMatch(/"result":\s*"running"/);
    await untilCaughtUp(s.args, s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const id of allIds()) expect(counts.get(id) ?? 0).toBeGreaterThan(0);
  });
});

describe('state faults', () => {
  it.each([
    ['empty', ''],
    ['truncated', '{"format":"siem-agent-state","version":1,"apps":{"Investigate":{"timest'],
    ['corrupt', '\u0000\u0001garbage'],
    ['from a future version', '{"format":"siem-agent-state","version":99,"apps":{}}'],
  ])('%s export_log.state: one line naming -r and --start_date, exit 1, nothing fetched', async (_n, content) => {
    const s = setup();
    writeFileSync(join(s.dir, 'export_log.state'), content);
    const n0 = emu.requests.length;
    const res = await runAgent(s.args);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/-r.*--start_date/);
    expect(emu.requests.length).toBe(n0);
    expect(readFileSync(join(s.dir, 'export_log.state'), 'utf8')).toBe(content);
  });

  it('a state directory that is not writable: error before anything is fetched', async () => {
    const s = setup();
    await withTmpfs(s.dir, 'ro', 'ro,size=64k', async (ro) => {
      const n0 = emu.requests.length;
      const res = await runAgent([...s.args, '--state_dir', ro]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/state directory .*\/ro.*(read-only|EROFS|writable)/);
      expect(emu.requests.length).toBe(n0);
    });
  });

  it('a marker older than the 180-day retention: goes on from the oldest time allowed and reports the gap loudly', async () => {
    const s = setup(['--elastica_app', 'detect']);
    writeFileSync(join(s.dir, 'export_log.state'), JSON.stringify({ format: 'siem-agent-state', version: 1, apps: { Detect: { timestamp: '2025-01-01T00:00:00.000Z', ids: [] } } }));
    const res = await runAgent(s.args);
    expect(res.code).toBe(0);
    const log = readLog(s.log);
    expect(log).toMatch(/-siem-agent-ERROR-Detect: the marker 2025-01-01T00:00:00.000Z is older than the API's 180-day retention/);
    expect(log).toMatch(/GAP \d+d/);
    expect(jsonLines(s.out).length).toBe(emu.logs.Detect.length);
    const status = await runAgent(['status', '--config', join(s.dir, 'config.json')]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/lost .* to the API's retention/);
  });
});

describe('output faults', () => {
  it('FILE on a read-only disk: a clear error before anything is fetched', async () => {
    const s = setup();
    await withTmpfs(s.dir, 'ro', 'ro,size=64k', async (ro) => {
      const n0 = emu.requests.length;
      const res = await runAgent(s.args.map((a) => (a === s.out ? join(ro, 'out.json') : a)));
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/output file .*\/ro\/out.json: cannot write \(read-only file system\)/);
      expect(emu.requests.length).toBe(n0);
      expect(stateOf(s.dir)).toBeUndefined();
    });
  });

  it('FILE on a full disk: a clear error, the marker not past the failed write', async () => {
    const s = setup(['--elastica_app', 'investigate']);
    await withTmpfs(s.dir, 'small', 'size=300k', async (mnt) => {
      const out = join(mnt, 'out.json');
      const res = await runAgent([...s.args.map((a) => (a === s.out ? out : a))]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/output file .*cannot write \(disk full\)/);
      const text = readFileSync(out, 'utf8');
      // the write that failed may leave the start of a line: it stays (the file is never cut
      // back, a tailing forwarder must only see growth) and the next run ends it
      const whole = text.slice(0, text.lastIndexOf('\n') + 1);
      const ids = new Set(whole.split('\n').filter(Boolean).map((l) => JSON.parse(l)._id as string));
      const m = stateOf(s.dir)?.apps.Investigate;
      if (m) for (const id of m.ids) expect(ids.has(id)).toBe(true);
      for (const r of emu.logs.Investigate) if (m && Date.parse(r.created_timestamp) < Date.parse(m.timestamp)) expect(ids.has(r._id)).toBe(true);
    });
  });
});

