// Operating the agent: its own log, run summary, heartbeat, status, check, dry run, bundle, progress.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { BIN, jsonLines, runAgent, startAgent, stateOf, tmp } from '../helpers/agent.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 41, counts: { Investigate: 2500, Detect: 500 } } });
});
afterAll(() => emu.close());

function setup(extra: string[] = []) {
  const dir = tmp('sa-ops-');
  const log = join(dir, 'agent.log');
  const out = join(dir, 'out.json');
  const config = emu.configFile(dir);
  return { dir, log, out, config, args: ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', log, ...extra] };
}
const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}-siem-agent-(DEBUG|INFO|WARNING|ERROR)-/;

describe("the agent's own log", () => {
  it("appends the old agent's line format: summary always, debug only with -d", async () => {
    const s = setup();
    expect((await runAgent(s.args)).code).toBe(0);
    const first = readFileSync(s.log, 'utf8').trim().split('\n');
    for (const l of first) expect(l).toMatch(LINE);
    expect(first.some((l) => l.includes('DEBUG'))).toBe(false);
    const summary = first.find((l) => l.includes('-INFO-Investigate: delivered'))!;
    for (const part of ['delivered 2500', 'duplicates dropped 0', 'pages 3', 'retries 0', 'truncated 0', 'marker 20', 'lag ', 'duration ', 'logs/s']) expect(summary).toContain(part);
    expect((await runAgent([...s.args, '-d', '-r'])).code).toBe(0);
    const all = readFileSync(s.log, 'utf8').trim().split('\n');
    expect(all.length).toBeGreaterThan(first.length);
    expect(all.some((l) => /-DEBUG-Investigate page 1: .*fetch \d+ ms, parse and format \d+ ms, write \d+ ms/.test(l))).toBe(true);
  });

  it('errors are logged with the old agent\'s wording', async () => {
    const s = setup();
    writeFileSync(join(s.dir, 'export_log.state'), '');
    expect((await runAgent(s.args)).code).toBe(1);
    expect(readFileSync(s.log, 'utf8')).toMatch(/-siem-agent-ERROR-state .* file is empty; .*\. Exiting!$/m);
  });

  it('--log_format json writes structured lines', async () => {
    const s = setup(['--log_format', 'json', '--max_logs', '10']);
    expect((await runAgent(s.args)).code).toBe(0);
    const lines = readFileSync(s.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) {
      for (const k of ['id', 'created_at', 'hostname', 'level', 'pid', 'run_id', 'message']) expect(l).toHaveProperty(k);
    }
    expect(new Set(lines.map((l) => l.run_id)).size).toBe(1);
  });

  it('--customfile is the old name of --log_file', async () => {
    const s = setup(['--max_logs', '1']);
    const alt = join(s.dir, 'custom.log');
    expect((await runAgent([...s.args, '--customfile', alt])).code).toBe(0);
    expect(readFileSync(alt, 'utf8')).toMatch(/delivered 1/);
  });

  it('an unwritable log file: the run still works and says so once on stderr', async () => {
    const s = setup(['--max_logs', '5']);
    writeFileSync(join(s.dir, 'a-file'), '');
    const res = await runAgent([...s.args.filter((a) => a !== s.log && a !== '--log_file'), '--log_file', join(s.dir, 'a-file', 'agent.log')]);
    expect(res.code).toBe(0);
    expect(jsonLines(s.out).length).toBe(10);
    expect(res.stderr.match(/cannot write the agent log/g)).toHaveLength(1);
  });

  it('rotates at 10 MB keeping 5 backups', async () => {
    const dir = tmp('sa-logrot-');
    const file = join(dir, 'a.log');
    const line = 'x'.repeat(1000);
    for (let round = 0; round < 7; round++) {
      const log = await createLogger({ debug: true, file, format: 'text', stderr: () => undefined, verbose: false });
      for (let i = 0; i < 11_000; i++) log.debug(line);
      await log.close();
    }
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['a.log', 'a.log.1', 'a.log.2', 'a.log.3', 'a.log.4', 'a.log.5']);
  }, 60_000);
});

describe('heartbeat', () => {
  it('--heartbeat sends one event of the agent\'s own through the output after the logs', async () => {
    const s = setup(['--heartbeat', '--elastica_app', 'detect']);
    expect((await runAgent(s.args)).code).toBe(0);
    const lines = jsonLines(s.out);
    expect(lines.length).toBe(501);
    const hb = lines.at(-1)!;
    expect(hb).toMatchObject({ service: 'siem-agent', activity_type: 'Heartbeat', delivered: 500, errors: 0, severity: 'informational' });
    expect(hb._id).toMatch(/^siem-agent-heartbeat-/);
    expect(typeof hb.lag_seconds).toBe('number');
    expect(hb.agent_version).toMatch(/^\d+\.\d+\.\d+/);
    // the heartbeat never moves the marker
    expect(stateOf(s.dir)!.apps.Detect!.ids).not.toContain(hb._id);
  });
});

describe('status', () => {
  it('reports markers, lag and the last run; exit 1 on --max_lag or a failed run', async () => {
    const s = setup();
    expect((await runAgent(s.args)).code).toBe(0);
    const ok = await runAgent(['status', '--config', s.config, '--json']);
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.stdout);
    expect(j.healthy).toBe(true);
    expect(j.last_run.result).toBe('ok');
    expect(j.apps.Investigate.marker).toBe(stateOf(s.dir)!.apps.Investigate!.timestamp);
    expect(j.lock).toEqual({ held: false, pid: null });
    const lagging = await runAgent(['status', '--config', s.config, '--max_lag', '1m']);
    expect(lagging.code).toBe(1);
    expect(lagging.stdout).toMatch(/PROBLEM: Investigate is .* behind \(more than --max_lag 1m00s\)/);
    writeFileSync(join(s.dir, 'export_log.state'), 'corrupt');
    expect((await runAgent(s.args)).code).toBe(1);
    const failed = await runAgent(['status', '--config', s.config]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/last run: failed/);
  });

  it('shows the lock holder while a run is going', async () => {
    const s = setup(['--page_size', '100']);
    emu.setLatency(200);
    try {
      const a = startAgent(s.args);
      await new Promise((r) => setTimeout(r, 1200));
      const st = await runAgent(['status', '--config', s.config, '--json']);
      expect(JSON.parse(st.stdout).lock).toEqual({ held: true, pid: a.child.pid });
      a.child.kill('SIGTERM');
      await a.done;
    } finally {
      emu.setLatency(0);
    }
  });
});

describe('check', () => {
  it('one OK line per step, exit 0, never moves the marker', async () => {
    const s = setup();
    const res = await runAgent(['check', ...s.args]);
    expect(res.code, res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^OK {3}config: /m);
    expect(res.stdout).toMatch(/^OK {3}API Investigate: reached/m);
    expect(res.stdout).toMatch(/^OK {3}output: FILE .* writable/m);
    expect(existsSync(join(s.dir, 'export_log.state'))).toBe(false);
  });

  it('FAIL with a hint for a bad key and an unreachable output, exit 1', async () => {
    const s = setup();
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ api_server: emu.url, tenant: 'acme', key_id: 'x', key_secret: 'y' }));
    chmodSync(bad, 0o600);
    const res = await runAgent(['check', '--config', bad, '-o', 'REMOTE', '--socket_type', 'TCP', '-t', '127.0.0.1:1']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^FAIL API Investigate: .*check key_id\/key_secret/m);
    expect(res.stdout).toMatch(/^FAIL output: .*cannot connect/m);
  });

  it('FAIL for a state file every run would refuse; OK with the markers once there are some', async () => {
    const s = setup();
    writeFileSync(join(s.dir, 'export_log.state'), '{"format":"siem-agent-st');
    const bad = await runAgent(['check', ...s.args]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL state file: state .*export_log\.state: file is truncated or corrupt/m);
    rmSync(join(s.dir, 'export_log.state'));
    expect((await runAgent(['check', ...s.args])).stdout).toMatch(/^OK {3}state file: none yet/m);
    expect((await runAgent([...s.args, '--max_logs', '2'])).code).toBe(0);
    expect((await runAgent(['check', ...s.args])).stdout).toMatch(/^OK {3}state file: markers: Investigate at 20\d\d-\S+, Detect at 20\d\d-/m);
  });
});

describe('--dry_run', () => {
  it('fetches and formats to stdout, never moves the marker or the status', async () => {
    const s = setup(['--max_logs', '3', '--dry_run']);
    const res = await runAgent(s.args);
    expect(res.code).toBe(0);
    expect(res.stdout.trim().split('\n')).toHaveLength(6);
    expect(existsSync(s.out)).toBe(false);
    expect(existsSync(join(s.dir, 'export_log.state'))).toBe(false);
    expect(existsSync(join(s.dir, 'last_job.status'))).toBe(false);
  });
});

describe('bundle', () => {
  it('a tar.gz with logs in the window, state, versions, last flags and the config without secrets', async () => {
    const s = setup(['--max_logs', '5']);
    expect((await runAgent(s.args)).code).toBe(0);
    writeFileSync(s.log, `2020-01-01 00:00:00,000-siem-agent-INFO-old line\n${readFileSync(s.log, 'utf8')}`);
    const out = join(s.dir, 'b.tar.gz');
    const today = new Date().toISOString().slice(0, 10);
    const res = await runAgent(['bundle', '--config', s.config, '--log_file', s.log, '--date_from', '2026-01-01', '--out_file', out]);
    expect(res.code, res.stderr).toBe(0);
    const x = join(s.dir, 'x');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', out, '-C', x]);
    const b = join(x, 'siem-agent-bundle');
    expect(readdirSync(b).sort()).toEqual(['config.redacted.json', 'export_log.state', 'last_job.status', 'siem_agent.log', 'versions.txt']);
    const cfg = JSON.parse(readFileSync(join(b, 'config.redacted.json'), 'utf8'));
    expect(cfg.key_secret).toBe('***');
    expect(cfg.key_id).toBe('test***');
    const log = readFileSync(join(b, 'siem_agent.log'), 'utf8');
    expect(log).not.toContain('old line');
    expect(log).toContain('delivered 5');
    const versions = readFileSync(join(b, 'versions.txt'), 'utf8');
    expect(versions).toMatch(/^node v\d+/m);
    expect(versions).toContain('last run flags: --config');
    void today;
  });
});

describe('progress', () => {
  it('shows a live line on a terminal during a backfill, and nothing under cron', async () => {
    const s = setup(['--page_size', '200', '--elastica_app', 'investigate']);
    // `script` gives the agent a terminal; spawned asynchronously so the in-process emulator can answer
    const script = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const c = spawn('script', ['-qec', `${process.execPath} ${BIN} ${s.args.join(' ')}`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      c.stdout.on('data', (d) => { stdout += String(d); });
      c.on('close', (status) => resolve({ status, stdout }));
    });
    expect(script.status).toBe(0);
    expect(script.stdout).toMatch(/\r\x1b\[KInvestigate \d+\/2500 logs \d+\/s/);
    const s2 = setup(['--page_size', '200', '--elastica_app', 'investigate']);
    const cron = await runAgent(s2.args);
    expect(cron.stderr).not.toMatch(/logs \d+\/s/);
  });
});
