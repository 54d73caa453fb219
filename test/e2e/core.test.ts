import { readFileSync, writeFileSync, chmodSync, mkdirSync, existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { countIds, delivered, idsOf, jsonLines, jsonLinesAfterKills, readLog, runAgent, startAgent, stateOf, tmp, untilCaughtUp } from '../helpers/agent.js';

let emu: Emulator;
beforeAll(async () => {
  // 3,000 Investigate + 1,000 Detect logs with tie groups of 1,500 (bigger than a 1,000-log page)
  emu = await startEmulator({ data: { seed: 7, counts: { Investigate: 3000, Detect: 1000 }, tieGroupSize: 1500 } });
});
afterAll(() => emu.close());

function setup() {
  const dir = tmp('sa-core-');
  const config = emu.configFile(dir);
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const base = ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', log];
  return { dir, config, out, log, base };
}

const allIds = () => [...emu.logs.Investigate, ...emu.logs.Detect].map((r) => r._id);



describe('exactly once over repeated cron runs', () => {
  it('delivers every log once across page boundaries, run boundaries and tie groups', async () => {
    const s = setup();
    const runs = await untilCaughtUp([...s.base, '--max_logs', '700'], s.log);
    expect(runs).toBeGreaterThan(4); // 3,000 / 700: the cut falls inside the 1,500-log tie group
    const ids = idsOf(jsonLines(s.out));
    expect(ids.length).toBe(allIds().length);
    expect(new Set(ids)).toEqual(new Set(allIds()));
    // each app has its own marker at its newest log
    const st = stateOf(s.dir)!;
    expect(st.apps.Investigate!.timestamp).toBe(new Date(Date.parse(emu.logs.Investigate.at(-1)!.created_timestamp)).toISOString());
    expect(st.apps.Detect!.timestamp).toBe(new Date(Date.parse(emu.logs.Detect.at(-1)!.created_timestamp)).toISOString());
  });

  it('stops exactly at --max_logs on a log boundary', async () => {
    const s = setup();
    const res = await runAgent([...s.base, '--max_logs', '1234', '--elastica_app', 'investigate']);
    expect(res.code).toBe(0);
    expect(jsonLines(s.out).length).toBe(1234);
    expect(delivered(readLog(s.log), 'Investigate')).toBe(1234);
  });

  it('a second instance says so and exits 0 without touching anything', async () => {
    const s = setup();
    let firstResult: { stderr: string } | undefined;
    emu.setLatency(300);
    try {
      const first = startAgent([...s.base, '--page_size', '100']);
      await new Promise((r) => setTimeout(r, 700));
      const second = await runAgent(s.base);
      expect(second.code).toBe(0);
      expect(second.stderr + readLog(s.log)).toContain('Another instance is already running.');
      first.child.kill('SIGTERM');
      firstResult = await first.done;
    } finally {
      emu.setLatency(0);
    }
    await untilCaughtUp(s.base, s.log);
    const ids = idsOf(jsonLines(s.out));
    expect(countIds(ids).size, `${firstResult?.stderr}\n${readLog(s.log)}`).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(allIds()));
  });
});

describe('both apps in one run', () => {
  it('are pulled concurrently, each exactly once, each with its own marker', async () => {
    const s = setup();
    const n0 = emu.requests.length;
    emu.setLatency(150);
    let res;
    try {
      res = await runAgent([...s.base, '--page_size', '250', '--max_logs', '1000']);
    } finally {
      emu.setLatency(0);
    }
    expect(res.code, res.stderr).toBe(0);
    const reqs = emu.requests.slice(n0).filter((r) => r.path.includes('/logs/get/'));
    expect(reqs.every((r) => r.query.app === 'Investigate' || r.query.app === 'Detect')).toBe(true);
    // an app's page was asked for while the other app's page was still being served
    const overlapping = reqs.filter((r) => r.openAtArrival.some((app) => app !== r.query.app));
    expect(overlapping.length).toBeGreaterThan(0);
    const ids = idsOf(jsonLines(s.out));
    expect(new Set(ids).size).toBe(ids.length);
    const inv = new Set(emu.logs.Investigate.map((r) => r._id));
    expect(ids.filter((id) => inv.has(id)).length).toBe(1000);
    expect(ids.filter((id) => !inv.has(id)).length).toBe(1000);
    const st = stateOf(s.dir)!;
    expect(inv.has(st.apps.Investigate!.ids[0]!)).toBe(true);
    expect(inv.has(st.apps.Detect!.ids[0]!)).toBe(false);
  });
});

describe('--max_logs default', () => {
  it('is 10,000 per app, raised to 20,000 when the first page reports a larger backlog', async () => {
    const big = await startEmulator({ data: { seed: 3, counts: { Investigate: 25_000, Detect: 8_000 }, hostile: false } });
    try {
      const dir = tmp('sa-maxlogs-');
      const log = join(dir, 'a.log');
      const res = await runAgent(['--config', big.configFile(dir), '-o', 'FILE', '-f', join(dir, 'o.json'), '--format', 'json', '--severity', 'all', '--log_file', log]);
      expect(res.code, res.stderr).toBe(0);
      const text = readFileSync(log, 'utf8');
      expect(delivered(text, 'Investigate')).toBe(20_000); // backlog 25,000 > 10,000: raised
      expect(delivered(text, 'Detect')).toBe(8_000); // backlog below 10,000: all of it
    } finally {
      await big.close();
    }
  }, 60_000);
});

describe('a run longer than the lock refresh interval', () => {
  it('keeps its lock and finishes (the lock is refreshed every 5 s, stale after 30 s)', async () => {
    const s = setup();
    const t0 = Date.now();
    // 100 a second in one step a second, the first at once: 750 logs take ~6.5 s
    const res = await runAgent([...s.base, '--elastica_app', 'detect', '--max_logs', '750', '--rate', '100']);
    expect(Date.now() - t0).toBeGreaterThan(6000);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(750);
  }, 30_000);
});

describe('kill -9 at random moments', () => {
  it('loses nothing and re-sends at most one page per kill', async () => {
    const s = setup();
    const pageSize = 200;
    emu.setLatency(15);
    const kills = 12;
    try {
      for (let i = 0; i < kills; i++) {
        const a = startAgent([...s.base, '--page_size', String(pageSize)]);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        a.child.kill('SIGKILL');
        await a.done;
      }
    } finally {
      emu.setLatency(0);
    }
    // a kill between taking the lock and writing the status leaves a lock no status explains,
    // taken over once 30 s old (as faults.test.ts's 30 SIGKILLs): age it as 30 s would
    const lock = join(s.dir, 'export_log.lock');
    const old = new Date(Date.now() - 31_000);
    if (existsSync(lock)) utimesSync(lock, old, old);
    await untilCaughtUp([...s.base, '-c'], s.log);
    const counts = countIds(idsOf(jsonLinesAfterKills(s.out)));
    for (const id of allIds()) expect(counts.get(id) ?? 0, `log ${id} lost`).toBeGreaterThan(0);
    const dupes = [...counts.values()].reduce((a, n) => a + n - 1, 0);
    // both apps run concurrently, so a kill can catch one page of each in flight
    expect(dupes).toBeLessThanOrEqual(kills * pageSize * 2);
  });
});

describe('flags that move the marker', () => {
  it('-r starts again from the earliest log', async () => {
    const s = setup();
    await untilCaughtUp(s.base, s.log);
    const n = jsonLines(s.out).length;
    const res = await runAgent([...s.base, '-r', '--max_logs', '20000']);
    expect(res.code).toBe(0);
    expect(jsonLines(s.out).length).toBe(n * 2);
  });

  it('--start_date starts from that UTC day and replaces the marker', async () => {
    const s = setup();
    await untilCaughtUp(s.base, s.log);
    const day = emu.logs.Investigate.at(-1)!.created_timestamp.slice(0, 10);
    const expected = emu.logs.Investigate.filter((r) => r.created_timestamp >= `${day}T00:00:00.000Z`).length;
    const before = jsonLines(s.out).length;
    const res = await runAgent([...s.base, '--start_date', day, '--elastica_app', 'Investigate', '--max_logs', '20000']);
    expect(res.code).toBe(0);
    expect(jsonLines(s.out).length - before).toBe(expected);
    // and the run after that continues from the new marker: nothing new
    await runAgent([...s.base, '--elastica_app', 'Investigate']);
    expect(jsonLines(s.out).length - before).toBe(expected);
  });

  it('-c does not take the lock of a live run', async () => {
    const s = setup();
    emu.setLatency(300);
    try {
      const first = startAgent([...s.base, '--page_size', '100']);
      await new Promise((r) => setTimeout(r, 1000));
      const second = await runAgent([...s.base, '-c']);
      expect(second.code).toBe(0);
      expect(readLog(s.log)).toMatch(/Another instance is already running\. \(pid \d+; -c\/-r do not clear a live run's lock\)/);
      first.child.kill('SIGTERM');
      await first.done;
    } finally {
      emu.setLatency(0);
    }
  });

  it('-c clears a stale status and lock', async () => {
    const s = setup();
    writeFileSync(join(s.dir, 'last_job.status'), '{"result":"running","pid":999999}');
    const res = await runAgent([...s.base, '-c', '--max_logs', '10']);
    expect(res.code).toBe(0);
    const st = JSON.parse(readFileSync(join(s.dir, 'last_job.status'), 'utf8'));
    expect(st.result).toBe('ok');
    expect(st.pid).not.toBe(999999);
  });
});

describe('filters', () => {
  const query = () => emu.requests.filter((r) => r.path.includes('/logs/get/') && !r.query.cursor);
  it.each([
    ['--severity', ['critical'], 'severity', (r: Record<string, unknown>) => r.severity === 'critical'],
    ['--app', ['Yahoo Mail'], 'service', (r: Record<string, unknown>) => r.service === 'Yahoo Mail'],
    ['--object_type', ['Add user'], 'object_type', (r: Record<string, unknown>) => r.object_type === 'Add user'],
    ['--activity_type', ['Policy Alert', 'Login'], 'activity_type', (r: Record<string, unknown>) => r.activity_type === 'Policy Alert' || r.activity_type === 'Login'],
  ] as const)('%s %s selects exactly the matching logs', async (flag, values, param, match) => {
    const s = setup();
    const n0 = emu.requests.length;
    const args = flag === '--severity' ? s.base.filter((a, i, all) => a !== '--severity' && all[i - 1] !== '--severity') : s.base;
    const res = await runAgent([...args, flag, values.join(','), '--elastica_app', 'investigate', '--max_logs', '20000']);
    expect(res.code, res.stderr).toBe(0);
    const sent = emu.requests.slice(n0).filter((r) => !r.query.cursor && r.path.includes('/logs/get/'));
    expect(sent[0]!.query[param]).toBe(values.join(','));
    const want = emu.logs.Investigate.filter((r) => match(r)); // the other runs keep --severity all
    const got = jsonLines(s.out);
    expect(got.length).toBe(want.length);
    expect(got.every(match)).toBe(true);
    expect(query().length).toBeGreaterThan(0);
  });

  it('defaults to error,critical,warning for Investigate and high,medium,low for Detect', async () => {
    const s = setup();
    const n0 = emu.requests.length;
    const args = s.base.filter((a, i, all) => a !== '--severity' && all[i - 1] !== '--severity');
    expect((await runAgent([...args, '--max_logs', '1'])).code).toBe(0);
    const first = emu.requests.slice(n0).filter((r) => !r.query.cursor && r.path.includes('/logs/get/'));
    const byApp = Object.fromEntries(first.map((r) => [r.query.app, r.query.severity]));
    expect(byApp).toEqual({ Investigate: 'error,critical,warning', Detect: 'high,medium,low' });
  });
});

describe('one marker, one selection', () => {
  it('a run with other filters on the same state is refused (it would make the cron job skip logs); its own --state_dir is fine', async () => {
    const s = setup(); // --severity all, as the cron job
    const cron = [...s.base, '--elastica_app', 'detect', '--max_logs', '20'];
    const first = await runAgent(cron);
    expect(first.code, first.stderr).toBe(0);
    const marker = stateOf(s.dir)!.apps.Detect!;
    const backfill = ['--config', s.config, '--elastica_app', 'detect', '--severity', 'high', '-o', 'FILE', '-f', join(s.dir, 'backfill.json'), '--format', 'json', '--log_file', s.log];
    const refused = await runAgent(backfill);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Detect: export_log\.state holds the marker of runs with other filters \(no filter\); this run asks for severity=high\. Moving it would make those runs skip logs: give this selection its own --state_dir, or start this state over for it with --start_date 20\d\d-\d\d-\d\d/);
    expect(stateOf(s.dir)!.apps.Detect).toMatchObject(marker);
    // its own state directory: fine, and the cron job's marker is untouched
    mkdirSync(join(s.dir, 'backfill-state'));
    const own = await runAgent([...backfill, '--state_dir', join(s.dir, 'backfill-state'), '--max_logs', '5']);
    expect(own.code, own.stderr).toBe(0);
    expect(stateOf(s.dir)!.apps.Detect).toMatchObject(marker);
    // the cron job goes on: every Detect log exactly once
    await untilCaughtUp([...cron, '--max_logs', '20000'], s.log);
    expect([...countIds(idsOf(jsonLines(s.out))).values()].every((n) => n === 1)).toBe(true);
    expect(idsOf(jsonLines(s.out)).sort()).toEqual(emu.logs.Detect.map((r) => r._id).sort());
  });
});

describe('bad config files', () => {
  const cases: Array<[string, (dir: string) => string, RegExp]> = [
    ['missing file', (d) => join(d, 'nope.json'), /config .*nope\.json: cannot read \(file not found\)/],
    ['bad JSON', (d) => { const p = join(d, 'c.json'); writeFileSync(p, '{"api_server": '); return p; }, /not valid JSON/],
    ['missing key', (d) => { const p = join(d, 'c.json'); writeFileSync(p, '{"api_server":"https://x/","tenant":"t","key_id":"k"}'); return p; }, /missing key "key_secret"/],
    ['bad api_server', (d) => { const p = join(d, 'c.json'); writeFileSync(p, '{"api_server":"ftp://x","tenant":"t","key_id":"k","key_secret":"s"}'); return p; }, /"api_server" must be an http or https URL/],
  ];
  it.each(cases)('%s: one clear line, exit 1', async (_n, make, msg) => {
    const d = tmp('sa-cfg-');
    const res = await runAgent(['--config', make(d), '-o', 'STREAM', '--log_file', join(d, 'a.log')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(msg);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a wrong secret is a 401 that names the config file; marker untouched; secret never shown', async () => {
    const s = setup();
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: 'WRONG-s3cret-value' }));
    chmodSync(bad, 0o600);
    const res = await runAgent([...s.base.map((a) => (a === s.config ? bad : a)), '--state_dir', s.dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`check key_id/key_secret in ${bad}`);
    expect(res.stderr + readLog(s.log)).not.toContain('WRONG-s3cret-value');
    expect(stateOf(s.dir)).toBeUndefined();
  });

  it('warns when the key file is readable by others', async () => {
    const s = setup();
    chmodSync(s.config, 0o644);
    const res = await runAgent([...s.base, '--max_logs', '1']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/readable by group or others.*chmod 600/);
  });
});

describe('STREAM output', () => {
  it('writes CEF to stdout by default format', async () => {
    const s = setup();
    const res = await runAgent(['--config', s.config, '-o', 'STREAM', '-s', 'STDOUT', '--max_logs', '5', '--elastica_app', 'detect', '--log_file', s.log]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^CEF:0\|Symantec\|CloudSOC\|/);
  });
});
