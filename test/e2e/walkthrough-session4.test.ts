// A newcomer's walk through the README's sections changed on 2026-11-26 (session 4): each test
// holds one README sentence against what the built agent (or install.sh) does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtures, iso, mk } from '../helpers/raw-api.js';
import { runAgent, tmp } from '../helpers/agent.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const fx = fixtures();
afterAll(() => fx.closeAll());

/** A state directory whose lock a SIGKILLed run left: fresh, and last_job.status "running" with a pid that is gone. */
function deadHolderState(dir: string): void {
  mkdirSync(join(dir, 'export_log.lock'));
  writeFileSync(join(dir, 'last_job.status'), JSON.stringify({
    version: '1.0.0', pid: 2 ** 22 + 12345, host: hostname(), run_id: 'dead-run', argv: [],
    started_at: new Date(Date.now() - 3000).toISOString(), result: 'running', apps: {},
  }));
}

describe('-c and the lock (State files, Troubleshooting)', () => {
  it('State files: a dead holder\'s lock is taken over after 6 s unrefreshed, "`-c` does not make that sooner"', async () => {
    expect(README).toContain('`-c` does not make that sooner');
    const now = Date.now();
    const emu = await fx.emulator([mk('d1', iso(now - 3_600_000))]);
    const dir = tmp('walk4-c-');
    const args = ['--config', emu.configFile(dir), '--state_dir', dir, '--log_file', join(dir, 'agent.log'), '-o', 'FILE', '-f', join(dir, 'out.json'), '--format', 'json', '--elastica_app', 'detect'];
    const timed = async (extra: string[]) => {
      deadHolderState(dir);
      const t0 = Date.now();
      const res = await runAgent([...args, ...extra]);
      return { code: res.code, tookOver: res.stderr.includes('is gone; taking the lock over'), waited: Date.now() - t0 >= 5_000 };
    };
    expect(await timed([])).toEqual({ code: 0, tookOver: true, waited: true });
    rmSync(join(dir, 'export_log.state'));
    expect(await timed(['-c'])).toEqual({ code: 0, tookOver: true, waited: true });
  });

  it('Troubleshooting: `Another instance is already running.` every run: "`-c` cannot free it sooner" — a lock no status explains stays', async () => {
    expect(README).toMatch(/`Another instance is already running\.` every run \|[^\n]*`-c` cannot free it sooner/);
    const now = Date.now();
    const emu = await fx.emulator([mk('d1', iso(now - 3_600_000))]);
    const dir = tmp('walk4-c2-');
    const args = ['--config', emu.configFile(dir), '--state_dir', dir, '--log_file', join(dir, 'agent.log'), '-o', 'FILE', '-f', join(dir, 'out.json'), '--format', 'json', '--elastica_app', 'detect'];
    mkdirSync(join(dir, 'export_log.lock')); // a lock, fresh, and no last_job.status (killed before writing it)
    const r = await runAgent([...args, '-c']);
    expect(r.code).toBe(0);
    const log = readFileSync(join(dir, 'agent.log'), 'utf8');
    expect({ refused: log.includes('Another instance is already running.'), delivered: existsSync(join(dir, 'out.json')) })
      .toEqual({ refused: true, delivered: false });
  });
});

describe('MAILTO (The agent\'s own log, Install)', () => {
  it('"`install.sh --cron` writes `MAILTO=root`"; `--mailto` sets another; an edited MAILTO is kept by a later install.sh run (an upgrade)', () => {
    expect(README).toContain('a `MAILTO` you edit in the file is kept by later `install.sh` runs');
    const prefix = tmp('walk4-inst-');
    // seed the copy's build stamp so that install.sh skips npm ci and the build (no network, no compile)
    const app = join(prefix, 'opt/siem-agent');
    mkdirSync(join(app, 'dist'), { recursive: true });
    writeFileSync(join(app, 'dist/siem-agent.cjs'), '');
    const want = execFileSync('bash', ['-c', 'SRC="$1"; echo "$(cat "$SRC/package-lock.json" "$SRC/tsconfig.json" | cksum) $(find "$SRC/src" "$SRC/scripts/build.mjs" -type f -exec cksum {} + | sort | cksum)"', '_', ROOT.replace(/\/$/, '')], { encoding: 'utf8' });
    writeFileSync(join(app, '.build-stamp'), want);
    const install = (...extra: string[]) => execFileSync('bash', [join(ROOT, 'install.sh'), '--prefix', prefix, '--cron', '--flags', '-o FILE -f /var/log/siem-agent/cloudsoc.cef', ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    install();
    const cron = join(prefix, 'etc/cron.d/siem-agent');
    expect(readFileSync(cron, 'utf8')).toContain('MAILTO=root\n');
    writeFileSync(cron, readFileSync(cron, 'utf8').replace('MAILTO=root', 'MAILTO=soc@example.com'));
    install(); // the same arguments, as an upgrade would
    expect(readFileSync(cron, 'utf8')).toContain('MAILTO=soc@example.com\n');
    install('--mailto', 'siem-ops@example.com,root');
    expect(readFileSync(cron, 'utf8')).toContain('MAILTO=siem-ops@example.com,root\n');
    // anything but addresses would be cron syntax
    expect(() => install('--mailto', 'x\n* * * * * root evil')).toThrow(/--mailto: not a mail address list/);
    expect(readFileSync(cron, 'utf8')).toContain('MAILTO=siem-ops@example.com,root\n');
    rmSync(prefix, { recursive: true, force: true });
  });
});
