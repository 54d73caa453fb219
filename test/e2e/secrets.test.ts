// The key secret, the proxy password and the Authorization header never appear in anything the
// agent writes: every path below runs with -d, then stdout, stderr and every file are searched.
import { readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { FaultSpec } from '../../src/emulator/faults.js';
import { runAgent, startAgent, tmp, type AgentResult } from '../helpers/agent.js';

const SECRET = 'Zq9-s3cret-KEY-4b7e-never-print';
const PROXY_PASSWORD = 'Pw-9d2c-proxy-never-print';
let emu: Emulator;
beforeAll(async () => { emu = await startEmulator({ keySecret: SECRET, data: { seed: 51, counts: { Investigate: 400, Detect: 100 } } }); });
afterAll(() => emu.close());

const dirs: string[] = [];
const results: AgentResult[] = [];
function setup() {
  const dir = tmp('sa-sec-');
  dirs.push(dir);
  return { dir, config: emu.configFile(dir), log: join(dir, 'agent.log') };
}
const base = (s: ReturnType<typeof setup>) => ['--config', s.config, '--log_file', s.log, '-d', '--request_timeout', '1', '--retries', '1', '--severity', 'all'];

const PATHS: Array<[string, (s: ReturnType<typeof setup>) => string[], FaultSpec[]?]> = [
  ['a normal run to FILE, CEF', (s) => ['-o', 'FILE', '-f', join(s.dir, 'out.cef'), '--heartbeat']],
  ['STREAM STDOUT, LEEF', () => ['-o', 'STREAM', '-s', 'STDOUT', '--siem', 'qradar', '--max_logs', '50']],
  ['STREAM STDERR, JSON, --log_format json', () => ['-o', 'STREAM', '--format', 'json', '--log_format', 'json', '--max_logs', '50']],
  ['5xx and 429 retried', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o')], [{ type: 'http500json', count: 1 }, { type: 'http429', count: 1, retryAfter: 1 }]],
  ['a hung request and a reset', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o')], [{ type: 'hang', count: 1 }, { type: 'reset', count: 1 }]],
  ['retries spent', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o')], [{ type: 'http503' }]],
  ['403 and 404', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o')], [{ type: 'http403', app: 'Investigate' }, { type: 'http404' }]],
  ['a proxy that is not there, with a password', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o'), '--proxy', `http://agent:${PROXY_PASSWORD}@127.0.0.1:1`]],
  ['-u/-p to an unreachable proxy', (s) => ['-o', 'FILE', '-f', join(s.dir, 'o'), '--proxy', '127.0.0.1:1', '-u', 'agent', '-p', PROXY_PASSWORD]],
  ['an unreachable TCP receiver', () => ['-o', 'REMOTE', '--socket_type', 'TCP', '-t', '127.0.0.1:1']],
  ['--dry_run', () => ['--dry_run', '--max_logs', '20']],
];

describe('every path with -d', () => {
  it.each(PATHS)('%s', async (_name, extra, faults) => {
    const s = setup();
    emu.setFaults(faults ?? []);
    try {
      results.push(await runAgent([...base(s), ...extra(s)]));
    } finally {
      emu.setFaults([]);
    }
  });

  it('a wrong key (401), a corrupt state, SIGTERM, status, check and bundle', async () => {
    const s = setup();
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: `${SECRET}-OLD` }));
    chmodSync(bad, 0o600);
    results.push(await runAgent(['--config', bad, '--state_dir', s.dir, '--log_file', s.log, '-d', '-o', 'STREAM']));
    emu.setLatency(200);
    try {
      const a = startAgent([...base(s), '-o', 'FILE', '-f', join(s.dir, 'o'), '--page_size', '50']);
      await new Promise((r) => setTimeout(r, 700));
      a.child.kill('SIGTERM');
      results.push(await a.done);
    } finally {
      emu.setLatency(0);
    }
    results.push(await runAgent(['status', '--config', s.config, '--json']));
    results.push(await runAgent(['check', ...base(s), '-o', 'FILE', '-f', join(s.dir, 'c')]));
    results.push(await runAgent(['bundle', '--config', s.config, '--log_file', s.log, '--out_file', join(s.dir, 'bundle.tar.gz')]));
    writeFileSync(join(s.dir, 'export_log.state'), '{broken');
    results.push(await runAgent([...base(s), '-o', 'FILE', '-f', join(s.dir, 'o')]));
  }, 60_000);

  it('none of them wrote a secret anywhere', () => {
    const needles = [SECRET, PROXY_PASSWORD, Buffer.from(`test-key-id:${SECRET}`).toString('base64'), Buffer.from(`agent:${PROXY_PASSWORD}`).toString('base64')];
    const hay: Array<[string, string]> = results.map((r, i) => [`run ${i} output`, r.stdout + r.stderr]);
    for (const dir of dirs) {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (!statSync(p).isFile() || f === 'config.json' || f === 'bad.json') continue;
        hay.push([p, (f.endsWith('.gz') ? gunzipSync(readFileSync(p)) : readFileSync(p)).toString('latin1')]);
      }
    }
    expect(results.length).toBe(PATHS.length + 6);
    expect(hay.length).toBeGreaterThan(30);
    // the runs did happen and said things: a scanner over empty files would prove nothing
    expect(hay.map(([, t]) => t).join('').length).toBeGreaterThan(100_000);
    for (const [where, text] of hay) for (const n of needles) expect(text.includes(n), `secret found in ${where}`).toBe(false);
  });
});
