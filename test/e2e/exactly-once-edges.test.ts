// Exactly once at the edges: paced pages cut short, two apps on one connection, a run that lost
// its lock, tie groups across pages and runs. Each test states the promise it checks
// (README "Exactly once: how", architecture.md "The delivery contract").
import { readFileSync, utimesSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { streamConnection } from '../../src/output/connection.js';
import type { LogRecord } from '../../src/types.js';
import { BIN, countIds, idsOf, jsonLines, jsonLinesAfterKills, readLog, runAgent, startAgent, stateOf, tmp, untilCaughtUp } from '../helpers/agent.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 17, counts: { Investigate: 600, Detect: 300 }, tieGroupSize: 250, hostile: false } });
});
afterAll(() => emu.close());

function setup(e: Emulator = emu) {
  const dir = tmp('sa-edge-');
  const config = e.configFile(dir);
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const base = ['--config', config, '--format', 'json', '--severity', 'all', '--log_file', log];
  return { dir, config, out, log, base, file: [...base, '-o', 'FILE', '-f', out] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP receiver that accepts connections but reads nothing (a stalled SIEM collector). */
async function stalledReceiver(): Promise<{ port: number; conns: Socket[]; server: Server }> {
  const conns: Socket[] = [];
  const server = createServer((c) => {
    c.pause();
    c.on('error', () => undefined);
    conns.push(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, conns, server };
}

/** The JSON log lines inside raw rfc3164/none-framed TCP text. */
const idsInTcp = (text: string): string[] => text.split('\n').filter(Boolean).map((l) => {
  const j = l.indexOf('{');
  return (JSON.parse(l.slice(j)) as LogRecord)._id;
});

describe('output confirmation and the marker', () => {
  it('REMOTE TCP with --rate: a page whose first chunk went into a connection that then died (no reconnect) must not be checkpointed', async () => {
    // paced() writes a page in chunks; stream outputs only count as delivered after confirm().
    const s = setup();
    const rx = await stalledReceiver();
    const n0 = emu.requests.length;
    const a = startAgent([...s.base, '-o', 'REMOTE', '-t', `127.0.0.1:${rx.port}`, '--socket_type', 'TCP', '--syslog_header', 'none',
      '--elastica_app', 'detect', '--page_size', '20', '--rate', '5', '--reconnect_timeout', '1']);
    // wait for the first page to be served: the first chunk (5 lines) is written at once
    for (let i = 0; i < 100 && !emu.requests.slice(n0).some((r) => r.path.includes('/logs/get/') && r.status === 200); i++) await sleep(50);
    await sleep(500); // chunk 1 is in the receiver's kernel buffer, never read; chunk 2 is due ~1 s after chunk 1
    // the receiver dies (its unread data dies with it) and nothing listens any more
    await new Promise<void>((r) => { rx.server.close(() => r()); for (const c of rx.conns) c.resetAndDestroy(); });
    const res = await a.done;
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not re-established/);
    // no receiver read a single line: nothing may be marked as delivered
    expect(stateOf(s.dir)?.apps.Detect, 'the marker moved past logs no receiver got').toBeUndefined();
  }, 30_000);

  it('REMOTE TCP with --rate, SIGTERM mid-page after the connection broke: the unconfirmed chunk must not be checkpointed', async () => {
    // the same paced() path, ended by a stop instead of a failed reconnect: nothing confirms the chunk
    let readAfter = '';
    let stall = true;
    const conns: Socket[] = [];
    const server = createServer((c) => {
      c.on('error', () => undefined);
      conns.push(c);
      if (stall) c.pause();
      else c.setEncoding('utf8').on('data', (d: string) => { readAfter += d; });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const s = setup();
    const n0 = emu.requests.length;
    const a = startAgent([...s.base, '-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', 'TCP', '--syslog_header', 'none',
      '--elastica_app', 'detect', '--page_size', '20', '--rate', '5']);
    try {
      for (let i = 0; i < 100 && !emu.requests.slice(n0).some((r) => r.path.includes('/logs/get/') && r.status === 200); i++) await sleep(50);
      await sleep(400);
      stall = false; // a restarted receiver reads whatever is re-sent to it
      conns[0]!.resetAndDestroy();
      await sleep(200);
      a.child.kill('SIGTERM'); // before chunk 2 is due (~1 s after chunk 1)
      const res = await a.done;
      expect(res.code).toBe(1);
      await sleep(300);
      const got = new Set(idsInTcp(readAfter));
      const m = stateOf(s.dir)?.apps.Detect;
      const marked = m ? emu.logs.Detect.filter((r) => Date.parse(r.created_timestamp) <= Date.parse(m.timestamp)).map((r) => r._id) : [];
      expect(marked.filter((id) => !got.has(id)), 'checkpointed but never received').toEqual([]);
    } finally {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);

  it('streamConnection: one app\'s confirm() must not drop the other app\'s unconfirmed lines (both apps share one TCP output)', async () => {
    // run.ts serialises write() but not confirm(): app B's page goes out while app A's confirm waits.
    let phase: 'stall' | 'read' = 'stall';
    let received = '';
    const conns: Socket[] = [];
    const server = createServer((c) => {
      c.on('error', () => undefined);
      conns.push(c);
      if (phase === 'stall') c.pause();
      else c.setEncoding('utf8').on('data', (d: string) => { received += d; });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const dial = () => new Promise<Socket>((resolve, reject) => {
      const sk = connect({ host: '127.0.0.1', port });
      sk.once('error', reject);
      sk.once('connect', () => { sk.off('error', reject); resolve(sk); });
    });
    const conn = streamConnection('TCP test', dial, 3000);
    try {
      await conn.open();
      await conn.send(Buffer.from('page-of-app-A\n'));
      const confirmA = conn.confirm(); // app A: wait 25 ms for the connection to show trouble
      await conn.send(Buffer.from('page-of-app-B\n')); // app B's page, written meanwhile
      await confirmA;
      // the receiver drops the connection before app B's confirm: B's page was never read
      phase = 'read';
      conns[0]!.resetAndDestroy();
      await sleep(100);
      await conn.confirm(); // app B: sees the break, reconnects and re-sends what it has not confirmed
      await sleep(300);
      expect(received, 'app B\'s page is gone yet its confirm() resolved (its marker moves)').toContain('page-of-app-B');
    } finally {
      await conn.close();
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 20_000);

  it('FILE with --rate stopped mid-page (--max_runtime): the output is fsync\'d before the marker that covers it is renamed into place', async () => {
    const s = setup();
    const trace = join(s.dir, 'strace.txt');
    const args = [...s.file, '--elastica_app', 'investigate', '--page_size', '100', '--rate', '20', '--max_runtime', '2'];
    const child = spawn('strace', ['-f', '-e', 'trace=openat,fsync,fdatasync,rename,write', '-o', trace, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stopped at --max_runtime/);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const outFd = lines.map((l) => new RegExp(`openat\\(AT_FDCWD, "${s.out}", [^)]*O_APPEND[^)]*\\) = (\\d+)`).exec(l)).find(Boolean)?.[1];
    expect(outFd).toBeDefined();
    const pending = new Map<string, string>();
    let dirty = false; // written to the output since its last fsync
    const commitsOverUnsynced: number[] = [];
    let commits = 0;
    for (const l of lines) {
      const pid = l.split(' ')[0]!;
      let m: RegExpExecArray | null;
      if ((m = /f(?:data)?sync\((\d+)\) += 0/.exec(l)) && m[1] === outFd) dirty = false;
      else if ((m = /f(?:data)?sync\((\d+) <unfinished/.exec(l))) pending.set(pid, m[1]!);
      else if (/<\.\.\. f(?:data)?sync resumed>\) += 0/.test(l) && pending.get(pid) === outFd) dirty = false;
      else if (new RegExp(`write\\(${outFd}, `).test(l)) dirty = true;
      else if (/rename\(".*\.export_log\.state\.[^"]*", ".*\/export_log\.state"/.test(l)) {
        commits++;
        if (dirty) commitsOverUnsynced.push(commits);
      }
    }
    expect(commits).toBeGreaterThan(0);
    const got = jsonLines(s.out).length;
    expect(got % 100, 'the run stopped mid-page').not.toBe(0);
    expect(commitsOverUnsynced, `marker commits made while the output held unsynced lines (of ${commits} commits)`).toEqual([]);
  }, 60_000);
});

describe('the lock', () => {
  it('a run that lost its lock (frozen, taken over) must not write its stale marker over the new holder\'s', async () => {
    const s = setup();
    const inv = emu.logs.Investigate;
    const newest = new Date(Date.parse(inv.at(-1)!.created_timestamp)).toISOString();
    // A: a slow, paced run (a page of 50 takes 2 s)
    const a = startAgent([...s.file, '--elastica_app', 'investigate', '--page_size', '50', '--rate', '25']);
    for (let i = 0; i < 100 && !stateOf(s.dir)?.apps.Investigate; i++) await sleep(100);
    expect(stateOf(s.dir)?.apps.Investigate).toBeDefined();
    a.child.kill('SIGSTOP'); // frozen (a suspended VM, a stopped job)
    const stoppedAt = Date.now();
    try {
      // ...long enough for its lock to look stale: B takes over and catches up
      const lock = join(s.dir, 'export_log.lock');
      const old = new Date(Date.now() - 31_000);
      utimesSync(lock, old, old);
      const b = await runAgent([...s.file, '--elastica_app', 'investigate', '--max_logs', '20000']);
      expect(b.code, b.stderr).toBe(0);
      expect(readLog(s.log)).not.toContain('Another instance is already running.');
      expect(stateOf(s.dir)!.apps.Investigate!.timestamp).toBe(newest);
      await sleep(Math.max(0, 6000 - (Date.now() - stoppedAt))); // A's 5 s lock refresh is due when it wakes
    } finally {
      a.child.kill('SIGCONT');
    }
    const resA = await a.done;
    expect(readLog(s.log)).toMatch(/lost the lock/);
    const after = stateOf(s.dir)!.apps.Investigate!;
    // what that costs: the next run re-sends everything between A's marker and B's
    const before = jsonLinesAfterKills(s.out).length;
    await runAgent([...s.file, '--elastica_app', 'investigate', '--max_logs', '20000']);
    const resent = jsonLinesAfterKills(s.out).length - before;
    expect(after.timestamp, `A (exit ${resA.code}) moved the marker back from B's; the next run re-sent ${resent} logs`).toBe(newest);
  }, 60_000);
});

describe('the source side (pins)', () => {
  // a tie group far bigger than a page and than Dedup's 3-page window, timestamps with
  // microseconds and a +02:00 offset (ms-equal), cut by --max_logs inside the group every run
  it('ties that straddle pages, runs and the repeat window, in mixed precisions and zones: every log once', async () => {
    const base = Date.now() - 2 * 86_400_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const logs: LogRecord[] = [];
    let n = 0;
    const add = (ts: string) => logs.push({ _id: `t${n++}`, created_timestamp: ts, severity: 'high', service: 'Box' });
    for (let i = 0; i < 5; i++) add(iso(base + i));
    const tie = base + 100;
    for (let i = 0; i < 60; i++) {
      const z = iso(tie);
      // same millisecond, written three ways
      add(i % 3 === 0 ? z : i % 3 === 1 ? z.replace('Z', `${String(i).padStart(3, '0')}Z`) : new Date(tie + 2 * 3600_000).toISOString().replace('Z', '+02:00'));
    }
    for (let i = 0; i < 7; i++) add(iso(base + 200 + i));
    const e2 = await startEmulator({ data: { Investigate: [], Detect: logs } });
    try {
      const s = setup(e2);
      e2.setFaults([{ type: 'repeat', probability: 0.5, n: 4 }]);
      const args = [...s.file, '--elastica_app', 'detect', '--page_size', '4', '--max_logs', '9'];
      await untilCaughtUp(args, s.log, 30);
      const counts = countIds(idsOf(jsonLines(s.out)));
      expect([...counts.entries()].filter(([, c]) => c !== 1)).toEqual([]);
      expect(counts.size).toBe(logs.length);
    } finally {
      await e2.close();
    }
  }, 60_000);

  it('state marker ids keep the whole tie group at the marker across runs (state file)', async () => {
    const s = setup();
    await runAgent([...s.file, '--elastica_app', 'investigate', '--max_logs', '300', '--page_size', '70']);
    const m = stateOf(s.dir)!.apps.Investigate!;
    const atMarker = emu.logs.Investigate.filter((r) => Date.parse(r.created_timestamp) === Date.parse(m.timestamp)).map((r) => r._id);
    const delivered = new Set(idsOf(jsonLines(s.out)));
    expect(new Set(m.ids)).toEqual(new Set(atMarker.filter((id) => delivered.has(id))));
  });

  it('logs that arrive later at the marker\'s own timestamp are delivered by the next run, once', async () => {
    const t = new Date(Date.now() - 86_400_000).toISOString();
    const mk = (id: string, ts: string): LogRecord => ({ _id: id, created_timestamp: ts, severity: 'high', service: 'Box' });
    const e2 = await startEmulator({ data: { Investigate: [], Detect: [mk('a', t), mk('b', t), mk('c', t)] } });
    try {
      const s = setup(e2);
      const args = [...s.file, '--elastica_app', 'detect', '--page_size', '2'];
      expect((await runAgent(args)).code).toBe(0);
      e2.addLogs('Detect', [mk('d', t), mk('e', t.replace('Z', '999Z'))]);
      expect((await runAgent(args)).code).toBe(0);
      expect((await runAgent(args)).code).toBe(0);
      expect(idsOf(jsonLines(s.out)).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    } finally {
      await e2.close();
    }
  });

  it('SIGKILL right after the first page: the marker never covers a line not in the file', async () => {
    const s = setup();
    emu.setLatency(200);
    try {
      for (let i = 0; i < 4; i++) {
        const a = startAgent([...s.file, '--page_size', '60', '-c']);
        await sleep(500 + i * 150);
        a.child.kill('SIGKILL');
        await a.done;
        const inFile = new Set(idsOf(jsonLinesAfterKills(s.out)));
        for (const m of Object.values(stateOf(s.dir)?.apps ?? {})) for (const id of m.ids) expect(inFile.has(id)).toBe(true);
      }
    } finally {
      emu.setLatency(0);
    }
    await untilCaughtUp([...s.file, '-c'], s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const r of [...emu.logs.Investigate, ...emu.logs.Detect]) expect(counts.get(r._id) ?? 0, r._id).toBeGreaterThan(0);
    expect(existsSync(join(s.dir, 'export_log.state'))).toBe(true);
  }, 60_000);
});
