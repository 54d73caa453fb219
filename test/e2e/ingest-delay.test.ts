// --ingest_delay (README "Exactly once: how", late arrivals): the API shows a log once it is
// inserted, seconds after it was created, so a query can see a newer log before an older one. A
// marker moved past a log not shown yet skips it for good; the agent leaves the newest logs (created
// less than --ingest_delay before the run) for a later run, so the marker never gets there.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { LogRecord } from '../../src/types.js';
import { idsOf, jsonLines, runAgent, stateOf, tmp } from '../helpers/agent.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString();
const mk = (id: string, created: number, inserted: number): LogRecord =>
  ({ _id: id, created_timestamp: iso(created), inserted_timestamp: iso(inserted), severity: 'high', service: 'Box' });

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** a (old), b (created 6 s ago, shown 2 s from now: inserted 8 s late), c (created 4 s ago, shown). */
async function lateLog(): Promise<{ args: string[]; out: string; dir: string; shownAt: number }> {
  const t = Date.now();
  emu = await startEmulator({ data: { Investigate: [], Detect: [mk('a', t - 30_000, t - 29_000), mk('b', t - 6_000, t + 2_000), mk('c', t - 4_000, t - 3_000)] } });
  const dir = tmp('sa-delay-');
  const out = join(dir, 'out.json');
  const args = ['--config', emu.configFile(dir), '--format', 'json', '--severity', 'all', '--elastica_app', 'detect',
    '--log_file', join(dir, 'agent.log'), '-o', 'FILE', '-f', out];
  return { args, out, dir, shownAt: t + 2_000 };
}

describe('--ingest_delay', () => {
  it('the emulator shows a log only once its inserted_timestamp has passed', async () => {
    const s = await lateLog();
    expect((await runAgent([...s.args, '--ingest_delay', '0'])).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a', 'c']);
  });

  it('without it (0), a log shown after a newer one was delivered is skipped for good: what the delay is for', async () => {
    const s = await lateLog();
    const args = [...s.args, '--ingest_delay', '0'];
    expect((await runAgent(args)).code).toBe(0);
    await sleep(Math.max(0, s.shownAt - Date.now()) + 500);
    expect((await runAgent(args)).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a', 'c']); // b is lost, exit 0: the failure it prevents
  });

  it('with it, the marker stays behind the logs not shown yet: every log once, the late one too', async () => {
    const s = await lateLog();
    const args = [...s.args, '--ingest_delay', '10'];
    const first = await runAgent(args);
    expect(first.code, first.stderr).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a']); // b not shown yet; c newer than 10 s
    expect(Date.parse(stateOf(s.dir)!.apps.Detect!.timestamp)).toBeLessThan(s.shownAt - 8_000 + 1);
    // once c is 10 s old (b has been shown since)
    await sleep(Math.max(0, s.shownAt + 6_500 - Date.now()));
    expect((await runAgent(args)).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a', 'b', 'c']);
    expect((await runAgent(args)).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a', 'b', 'c']);
  }, 30_000);

  it('is a whole number of seconds, 0 to 86400', async () => {
    for (const bad of ['-1', '1.5', 'ten', '90000']) {
      const res = await runAgent(['--config', '/nonexistent.json', '--ingest_delay', bad]);
      expect(res.code, bad).toBe(1);
      expect(res.stderr, bad).toMatch(/^siem-agent: --ingest_delay: (expected a whole number, got "[^"]*"|must be between 0 and 86400, got \d+)$/m);
    }
  });
});
