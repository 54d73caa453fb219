// Outputs, operations and secrets at the edges (found by an audit). Each test states what the README promises and
// fails when the built agent (bin/siem-agent → dist/) breaks that promise.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { runAgent, stateOf, tmp } from '../helpers/agent.js';
import { freePort } from '../helpers/daemons.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 77, counts: { Investigate: 60, Detect: 20 } } });
});
afterAll(() => emu.close());

const PW = 'Pw-audit-7731-never-print';

function setup() {
  const dir = tmp('sa-edge-');
  return { dir, config: emu.configFile(dir), log: join(dir, 'agent.log') };
}
const base = (s: ReturnType<typeof setup>) => ['--config', s.config, '--log_file', s.log, '--severity', 'all'];
const allIds = (apps: Array<'Investigate' | 'Detect'> = ['Investigate', 'Detect']) => new Set(apps.flatMap((a) => emu.logs[a].map((r) => r._id)));

/** The whole text of a support bundle (every member), for a secret search. */
function bundleText(tgz: string): string {
  return execFileSync('tar', ['-xzOf', tgz]).toString('latin1');
}

describe('secrets in error messages and in the support bundle', () => {
  // README: "the secret is never printed"; "-u USER, -p PASSWORD ... proxy basic auth".
  // A proxy given as user:password@host (no scheme) is accepted by --proxy (host:port or URL).
  it.each([
    ['--proxy user:password@host without a port', `agent:${PW}@proxy.example`],
    ['--proxy user:password@host:notaport', `agent:${PW}@proxy.example:http`],
    ['--proxy URL whose password holds an @', `http://agent:x@${PW}@proxy.example:bad`],
  ])('a bad %s: the one-line error does not print the password', async (_what, proxy) => {
    const s = setup();
    const res = await runAgent([...base(s), '-o', 'FILE', '-f', join(s.dir, 'out'), '--proxy', proxy]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr, res.stderr).not.toContain(PW);
  });

  it('check with a bad --proxy: the FAIL line does not print the password', async () => {
    const s = setup();
    const res = await runAgent(['check', ...base(s), '-o', 'FILE', '-f', join(s.dir, 'out'), '--proxy', `agent:${PW}@proxy.example`]);
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr, res.stdout).not.toContain(PW);
  });

  // README: last_job.status holds "flags (secrets removed)"; the bundle "holds no secrets".
  it.each([
    ['-p attached to its value (-pSECRET)', ['--proxy', '127.0.0.1:1', '-u', 'agent', `-p${PW}`]],
    ['--proxy user:password@host:port (no scheme)', ['--proxy', `agent:${PW}@127.0.0.1:1`]],
    ['--proxy URL whose password holds an @', ['--proxy', `http://agent:x@${PW}@127.0.0.1:1`]],
  ])('%s: last_job.status and the support bundle hold no proxy password', async (_what, extra) => {
    const s = setup();
    const res = await runAgent([...base(s), '--retries', '0', '--request_timeout', '2', '-o', 'FILE', '-f', join(s.dir, 'out'), ...extra]);
    expect(res.code).toBe(1); // the proxy is not there: a network error, after the status was written
    const status = readFileSync(join(s.dir, 'last_job.status'), 'utf8');
    const out = join(s.dir, 'bundle.tar.gz');
    const b = await runAgent(['bundle', '--config', s.config, '--log_file', s.log, '--out_file', out]);
    expect(b.code).toBe(0);
    expect(status.includes(PW), `proxy password in last_job.status: ${status.split('\n').find((l) => l.includes(PW))}`).toBe(false);
    expect(bundleText(out).includes(PW), 'proxy password in the support bundle').toBe(false);
  });
});

describe('invalid flag values', () => {
  // README exit table / --max_runtime: "stop cleanly ... before the next cron run". A large value
  // must not mean "stop at once": Node's setTimeout turns > 2^31-1 ms into 1 ms.
  it('--max_runtime larger than 24.8 days is refused, or honoured, never "stop immediately, exit 0"', async () => {
    const s = setup();
    const out = join(s.dir, 'out');
    const res = await runAgent([...base(s), '-o', 'FILE', '-f', out, '--max_runtime', '9999999']);
    if (res.code === 1) {
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1);
      expect(res.stderr).toMatch(/--max_runtime/);
      return;
    }
    expect(res.code).toBe(0);
    const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
    expect(lines.length, `delivered nothing; stderr: ${res.stderr}`).toBe(allIds().size);
  });
});

/** A TCP receiver whose n-th connection (1-based) behaves as `mode(n)`: it records lines, or drops the connection on the first data. */
async function tcpReceiver(mode: (n: number) => 'record' | 'drop'): Promise<{ server: Server; port: number; lines: string[]; conns: () => number }> {
  const lines: string[] = [];
  let n = 0;
  const server = createServer((sock: Socket) => {
    const me = ++n;
    if (mode(me) === 'drop') {
      sock.once('data', () => sock.resetAndDestroy());
      sock.on('error', () => undefined);
      return;
    }
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    sock.on('error', () => undefined);
  });
  const port = await freePort('tcp');
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { server, port, lines, conns: () => n };
}

describe('REMOTE TCP: a receiver that drops connections', () => {
  // README: "A log counts as delivered once written to the socket *and* the connection stayed
  // healthy for a short confirmation window after it; everything written since the last
  // confirmation is re-sent on a new connection". Here the first connection dies with the first
  // page in it, and so does the one the agent re-sends that page on; later ones are healthy.
  it('a page re-sent on a connection that also dies is not marked delivered (no log lost)', async () => {
    const rx = await tcpReceiver((n) => (n <= 2 ? 'drop' : 'record'));
    try {
      const s = setup();
      const args = [...base(s), '--elastica_app', 'investigate', '--page_size', '20', '-o', 'REMOTE', '--socket_type', 'TCP',
        '-t', `127.0.0.1:${rx.port}`, '--syslog_header', 'none', '--format', 'json', '--reconnect_timeout', '5'];
      const res = await runAgent(args);
      expect(rx.conns()).toBeGreaterThanOrEqual(3);
      await new Promise((r) => setTimeout(r, 300));
      const got = new Set(rx.lines.map((l) => (JSON.parse(l) as { _id: string })._id));
      // whatever the exit, every log behind the marker must have reached a healthy connection
      const st = stateOf(s.dir);
      const marker = st?.apps.Investigate?.timestamp;
      const behind = emu.logs.Investigate.filter((r) => marker !== undefined && r.created_timestamp <= marker && (r.created_timestamp < marker || st!.apps.Investigate!.ids.includes(r._id)));
      const lost = behind.filter((r) => !got.has(r._id)).map((r) => r._id);
      expect(lost, `exit ${res.code}; ${lost.length} logs marked delivered never reached the receiver; stderr: ${res.stderr}`).toEqual([]);
    } finally {
      await new Promise((r) => rx.server.close(r));
    }
  });
});

describe('REMOTE UDP to a closed port', () => {
  // README: the marker "moves only after the output has taken the logs"; "Whatever the exit, the
  // marker is at the last delivered log". The agent *knows* here (ECONNREFUSED) that nothing
  // listens: it must not checkpoint the datagrams the port refused.
  it('a run that learns ECONNREFUSED checkpoints nothing the closed port refused; the next run delivers every log', async () => {
    const s = setup();
    const port = await freePort('udp');
    const args = [...base(s), '-o', 'REMOTE', '--socket_type', 'UDP', '-t', `127.0.0.1:${port}`, '--syslog_header', 'none', '--format', 'json'];
    const first = await runAgent(args);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/ECONNREFUSED/);
    const rx = createSocket('udp4');
    const got: string[] = [];
    rx.on('message', (m) => got.push((JSON.parse(m.toString('utf8')) as { _id: string })._id));
    await new Promise<void>((r) => rx.bind(port, '127.0.0.1', () => r()));
    try {
      const second = await runAgent(args);
      expect(second.code, second.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      const missing = [...allIds()].filter((id) => !got.includes(id));
      expect(missing, `${missing.length} logs were checkpointed by the run that got ECONNREFUSED and never delivered; first run said: ${first.stderr.trim()}`).toEqual([]);
    } finally {
      rx.close();
    }
  });
});

describe('support bundle: config redaction', () => {
  // README: "Send `siem-agent bundle` to support: it holds no secrets." A config the agent refuses
  // because api_server holds credentials is exactly the one a user sends to support.
  it('credentials inside api_server are not copied into config.redacted.json', async () => {
    const dir = tmp('sa-edge-');
    const config = emu.configFile(dir, { api_server: `https://acme-admin:${PW}@api.example/` });
    const log = join(dir, 'agent.log');
    const res = await runAgent(['--config', config, '--log_file', log, '-o', 'FILE', '-f', join(dir, 'out')]);
    expect(res.stderr).toMatch(/must not hold credentials/);
    const out = join(dir, 'bundle.tar.gz');
    const b = await runAgent(['bundle', '--config', config, '--log_file', log, '--out_file', out]);
    expect(b.code).toBe(0);
    const text = bundleText(out);
    expect(text).toMatch(/api\.example/);
    expect(text.includes(PW), 'the password in api_server is in the support bundle').toBe(false);
  });
});

describe('REMOTE TCP: a receiver that accepts and never reads', () => {
  // README: a run that has not stopped 10 s after --max_runtime "logs why and exits 1 anyway";
  // last_job.status holds the result (running, ok, failed, interrupted) and `status` reports it.
  it('the run ends by --max_runtime + 10 s, exit 1, and last_job.status says why (not a run that "died")', async () => {
    const big = await startEmulator({ data: { seed: 78, counts: { Investigate: 8000, Detect: 1 } } });
    const server = createServer((sock) => { sock.pause(); sock.on('error', () => undefined); });
    const port = await freePort('tcp');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      const dir = tmp('sa-edge-');
      const t0 = Date.now();
      const res = await runAgent(['--config', big.configFile(dir), '--log_file', join(dir, 'agent.log'), '--severity', 'all',
        '--elastica_app', 'investigate', '--max_logs', '8000', '-o', 'REMOTE', '--socket_type', 'TCP', '-t', `127.0.0.1:${port}`,
        '--max_runtime', '2', '--reconnect_timeout', '2']);
      const took = Date.now() - t0;
      expect(res.code).toBe(1);
      expect(took).toBeLessThan(20_000);
      const st = JSON.parse(readFileSync(join(dir, 'last_job.status'), 'utf8')) as { result: string; error?: string };
      const status = await runAgent(['status', '--config', join(dir, 'config.json')]);
      expect(st.result, `last_job.status after the forced exit; \`status\` says: ${status.stdout.trim().split('\n').slice(-2).join(' | ')}`).not.toBe('running');
    } finally {
      server.close();
      await big.close();
    }
  }, 40_000);
});
