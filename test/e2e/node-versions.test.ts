import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createRequire } from 'node:module';
import { delivered, readLog, runAgent, tmp } from '../helpers/agent.js';

// The agent runs on Node 20.18+, 22 and 24 (package.json engines, README). CI runs the suite on
// one Node; these tests run the built agent on the others, fetched by .ci/setup-nodes.sh into
// .tmp/nodes/<version>/bin/node. bin/siem-agent's shebang is `env -S node`, so a PATH with that
// release first is how a host with that Node runs it.
const NODES = fileURLToPath(new URL('../../.tmp/nodes/', import.meta.url));
const SUPPORTED = ['20.18.1', '22.23.3', '24.21.0'];
const TOO_OLD = '18.20.8';
const nodeBin = (v: string) => join(NODES, v, 'bin', 'node');
const present = [...SUPPORTED, TOO_OLD].every((v) => existsSync(nodeBin(v)));
const withNode = (v: string) => ({ PATH: `${dirname(nodeBin(v))}:${process.env.PATH ?? ''}` });

/** Which Node ran the agent: a --require'd hook writes process.version at exit. */
function versionHook(dir: string): { env: Record<string, string>; ran: () => string } {
  const hook = join(dir, 'hook.cjs');
  const out = join(dir, 'node-version.txt');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, process.version));`);
  return { env: { NODE_OPTIONS: `--require ${hook}` }, ran: () => readFileSync(out, 'utf8') };
}

it('bin/v8-flags.js gives V8 flags only to the V8 versions they were measured on', () => {
  const { v8Flags } = createRequire(import.meta.url)('../../bin/v8-flags.js') as { v8Flags: (v: string) => string[] };
  expect(v8Flags('11.3.244.8-node.38')).toEqual(['--wasm-tier-up-filter=1000000', '--interrupt-budget=270336']);
  for (const v of ['12.4.254.21-node.33', '13.6.233.17-node.37', '14.6.202.34-node.34']) expect(v8Flags(v)).toEqual(['--wasm-tier-up-filter=1000000']);
  for (const v of ['10.2.154.26-node.26', '15.0.1']) expect(v8Flags(v)).toEqual([]);
});

it('the Node releases to test on are installed (.ci/setup-nodes.sh), as CI requires', () => {
  // outside CI a developer may not have fetched them: the tests below are then skipped
  if (process.env.CI) expect(present, `run: bash .ci/setup-nodes.sh (looked in ${NODES})`).toBe(true);
  else expect(typeof present).toBe('boolean');
});

describe.skipIf(!present)('on each supported Node release', () => {
  let emu: Emulator;
  let reference: string[];
  const cli = (dir: string) => ['--config', emu.configFile(dir), '--severity', 'all', '--log_file', join(dir, 'agent.log')];

  beforeAll(async () => {
    emu = await startEmulator({ data: { seed: 8, counts: { Investigate: 1500, Detect: 700 } } });
    // the lines this Node (the one running the tests) writes: every release must write the same
    const dir = tmp('sa-nodes-ref-');
    const r = await runAgent([...cli(dir), '-o', 'STREAM', '-s', 'STDOUT']);
    expect(r.code, r.stderr).toBe(0);
    reference = r.stdout.split('\n').filter(Boolean).sort();
    expect(reference).toHaveLength(2200);
  });
  afterAll(() => emu.close());

  for (const v of SUPPORTED) {
    it(`Node ${v}: the same lines, nothing on stderr, and exactly once across runs`, async () => {
      const dir = tmp('sa-nodes-');
      const hook = versionHook(dir);
      const first = await runAgent([...cli(dir), '-o', 'STREAM', '-s', 'STDOUT'], { env: { ...withNode(v), ...hook.env } });
      expect(first.code, first.stderr).toBe(0);
      expect(hook.ran()).toBe(`v${v}`);
      expect(first.stdout.split('\n').filter(Boolean).sort()).toEqual(reference);
      // silent, as cron needs: a V8 flag the bin sets that this release rejected would say so here
      expect(first.stderr).toBe('');
      const logged = readLog(join(dir, 'agent.log')).length;
      const again = await runAgent([...cli(dir), '-o', 'FILE', '-f', join(dir, 'out.cef')], { env: withNode(v) });
      expect(again.code, again.stderr).toBe(0);
      const second = readLog(join(dir, 'agent.log')).slice(logged);
      expect([delivered(second, 'Investigate'), delivered(second, 'Detect')]).toEqual([0, 0]);
      expect(readLog(join(dir, 'out.cef'))).toBe('');
    });

    it(`Node ${v}: undici's WebAssembly HTTP parser stays on the baseline compiler`, async () => {
      // A tiny tier-up budget makes V8 recompile the parser with TurboFan almost at once (~200 ms
      // of CPU and a 23 MB compile zone on Node 24) unless the bin's setting holds on this release.
      // Node is started directly here, so the trace flags apply; the bin's code still runs.
      const dir = tmp('sa-nodes-wasm-');
      const r = await runAgent([...cli(dir), '-o', 'FILE', '-f', join(dir, 'out.cef')], {
        via: [nodeBin(v), '--wasm-tiering-budget=1000', '--trace-wasm-compilation-times'],
      });
      expect(r.code, r.stderr).toBe(0);
      expect(delivered(readLog(join(dir, 'agent.log')), 'Investigate')).toBe(1500);
      expect(r.stdout).toMatch(/using Liftoff/); // the trace works on this release
      expect(r.stdout).not.toMatch(/using TurboFan/);
    });
  }

  // Node 22.1+ keep compiled code between runs; bin/compile-cache.js puts it where only the
  // agent's user can write, never in the /tmp directory Node would share with every user
  for (const v of SUPPORTED.filter((x) => Number(x.split('.')[0]) >= 22)) {
    it(`Node ${v}: the compile cache is kept in ~/.cache/siem-agent, never in $TMPDIR, and not in one others can write to`, async () => {
      const dir = tmp('sa-nodes-cc-');
      const home = tmp('sa-nodes-cc-home-');
      const tmpdir = tmp('sa-nodes-cc-tmp-');
      const env = { ...withNode(v), HOME: home, TMPDIR: tmpdir, XDG_CACHE_HOME: '' };
      const r = await runAgent([...cli(dir), '-o', 'FILE', '-f', join(dir, 'out.cef')], { env });
      expect(r.code, r.stderr).toBe(0);
      const cache = join(home, '.cache', 'siem-agent');
      expect(readdirSync(cache).filter((d) => d.startsWith(`v${v}-`))).toHaveLength(1);
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      expect(readdirSync(tmpdir)).toEqual([]);

      // the same with a cache directory others can write to: not used, and nothing in $TMPDIR
      const home2 = tmp('sa-nodes-cc-home-');
      mkdirSync(join(home2, '.cache', 'siem-agent'), { recursive: true });
      chmodSync(join(home2, '.cache', 'siem-agent'), 0o777);
      const r2 = await runAgent([...cli(tmp('sa-nodes-cc-')), '-o', 'FILE', '-f', join(dir, 'out2.cef')], { env: { ...env, HOME: home2 } });
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stderr).toBe('');
      expect(readdirSync(join(home2, '.cache', 'siem-agent'))).toEqual([]);
      expect(readdirSync(tmpdir)).toEqual([]);
    });
  }

  it(`Node ${TOO_OLD}: refused in one line, exit 1`, async () => {
    const r = await runAgent(['--version'], { env: withNode(TOO_OLD) });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`siem-agent: Node.js 20.18.1 or later is required (this is v${TOO_OLD}); install a current Node.js LTS\n`);
  });
});
