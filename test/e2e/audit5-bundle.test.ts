// Audit 5: `siem-agent bundle`. The window's days (this host's local days, as the text log writes
// them; a JSON line's created_at converted to them), a reversed window refused, and symbolic links
// in the service user's directories not followed by a bundle made as root. The link tests are
// root only: they create a system user (the stand-in for install.sh's `siem-agent`), removed in
// afterAll, and plant its links with runuser. No emulator: bundle reaches no API.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runAgent, tmp, runCommand as run } from '../helpers/agent.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canRun = isRoot && has('runuser') && has('useradd');

const AGENT = 'a5b-agent';
const SECRET = 'Zk7-a5b-key-secret-never-on-disk';

const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
beforeAll(() => {
  if (!canRun) return;
  quiet('userdel', [AGENT]); // left over by an interrupted run of this file
  execFileSync('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', AGENT]);
});
afterAll(() => {
  if (canRun) quiet('userdel', [AGENT]);
});

const uid = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
const gid = (u: string) => Number(execFileSync('id', ['-g', u], { encoding: 'utf8' }).trim());

const asUser = (user: string, cmd: string, args: string[]) => run('runuser', ['-u', user, '--', cmd, ...args]);

/** A scratch directory others can traverse (tmp() makes them 0700), owned by `owner`. */
function dir(owner?: string): string {
  const d = tmp('sa-a5b-');
  chmodSync(d, 0o755);
  if (owner) chownSync(d, uid(owner), gid(owner));
  return d;
}
/** config.json as README's Install has it: the service user's, 0600. */
function config(d: string, owner?: string): string {
  const p = join(d, 'config.json');
  writeFileSync(p, `${JSON.stringify({ user_id: 'u', api_server: 'https://127.0.0.1:9', tenant: 't', key_id: 'abcd1234', key_secret: SECRET }, null, 2)}\n`, { mode: 0o600 });
  if (owner) chownSync(p, uid(owner), gid(owner));
  return p;
}
/** A root-only file standing in for /etc/shadow. */
function rootOnlyFile(text: string): { dir: string; file: string } {
  const d = tmp('sa-a5b-root-'); // 0700, root's
  const file = join(d, 'victim');
  writeFileSync(file, text, { mode: 0o600 });
  return { dir: d, file };
}
/** The bundle's members, extracted: name -> text. */
function members(bundle: string): Record<string, string> {
  const x = tmp('sa-a5b-x-');
  execFileSync('tar', ['-xzf', bundle, '-C', x]);
  const b = join(x, 'siem-agent-bundle');
  return Object.fromEntries(readdirSync(b).map((f) => [f, readFileSync(join(b, f), 'utf8')]));
}

describe('bundle: the window', () => {
  it('a reversed window (--date_from after --date_to) is refused in one line naming both flags, exit 1, no bundle written', async () => {
    const d = tmp('sa-a5b-');
    writeFileSync(join(d, 'agent.log'), '2026-11-20 10:00:00,000-siem-agent-INFO-x\n');
    const out = join(d, 'b.tgz');
    const res = await runAgent(['bundle', '--config', config(d), '--log_file', join(d, 'agent.log'), '--date_from', '2026-11-21', '--date_to', '2026-11-20', '--out_file', out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^siem-agent: [^\n]*--date_from 2026-11-21[^\n]*--date_to 2026-11-20[^\n]*\n$/);
    expect(existsSync(out)).toBe(false);
  });

  it('one day (--date_from = --date_to) and days in the future are accepted', async () => {
    const d = tmp('sa-a5b-');
    writeFileSync(join(d, 'agent.log'), '2026-11-20 10:00:00,000-siem-agent-INFO-x\n');
    for (const [from, to] of [['2026-11-20', '2026-11-20'], ['2099-01-01', '2099-12-31']]) {
      const res = await runAgent(['bundle', '--config', config(d), '--log_file', join(d, 'agent.log'), '--date_from', from!, '--date_to', to!, '--out_file', join(d, `${from}.tgz`)]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toBe('');
    }
  });

  it('days are this host\'s local days: a text line by its own date, a JSON line by its UTC created_at converted to the host\'s zone (README: bundle)', async () => {
    const d = tmp('sa-a5b-');
    const text = join(d, 'text.log');
    const json = join(d, 'json.log');
    // Asia/Tokyo is UTC+9 (no DST): 2026-11-20T16:30Z is 01:30 on the 21st there, 14:00Z is 23:00 on the 20th
    writeFileSync(text, ['2026-11-20 23:00:00,000-siem-agent-INFO-late on the 20th', '2026-11-21 01:30:00,000-siem-agent-INFO-early on the 21st', ''].join('\n'));
    writeFileSync(json, [
      JSON.stringify({ id: 'a-1', created_at: '2026-11-20T14:00:00.000Z', level: 'INFO', message: 'late on the 20th' }),
      JSON.stringify({ id: 'a-2', created_at: '2026-11-20T16:30:00.000Z', level: 'INFO', message: 'early on the 21st' }), ''].join('\n'));
    const env = { TZ: 'Asia/Tokyo' };
    for (const log of [text, json]) {
      const out = join(d, `${log.endsWith('json.log') ? 'j' : 't'}.tgz`);
      const res = await runAgent(['bundle', '--config', config(d), '--log_file', log, '--date_from', '2026-11-21', '--date_to', '2026-11-21', '--out_file', out], { env });
      expect(res.code, res.stderr).toBe(0);
      const m = members(out);
      expect(m['siem_agent.log']).toContain('early on the 21st');
      expect(m['siem_agent.log']).not.toContain('late on the 20th');
      expect(m['versions.txt']).toMatch(/\(1 lines from /);
      expect(m['versions.txt']).toMatch(/log window days: this host's time zone \(Asia\/Tokyo, UTC\+09:00 now\)/);
    }
  });
});

describe.skipIf(!canRun)('bundle and symbolic links in the service user\'s directories (README: bundle, "it holds no secrets")', () => {
  // found by audit 5's files audit; kept here, with the skip notes
  it('bundle as root: no file a planted link points to ends up in the support bundle ("it holds no secrets")', async () => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const victim = rootOnlyFile('root:$6$a5b-shadow-hash$:19000:0:99999:7:::\n');
    const log = join(base, 'siem_agent.log');
    expect((await asUser(AGENT, 'ln', ['-s', victim.file, join(base, 'export_log.state')])).code).toBe(0);
    expect((await asUser(AGENT, 'ln', ['-s', victim.file, log])).code).toBe(0);
    const outDir = tmp('sa-a5b-bundle-');
    const bundle = join(outDir, 'b.tar.gz');
    const res = await run(BIN, ['bundle', '--config', cfg, '--log_file', log, '--out_file', bundle]);
    expect(res.code, res.stderr).toBe(0);
    const x = join(outDir, 'x');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', bundle, '-C', x]);
    const hits = readdirSync(join(x, 'siem-agent-bundle')).filter((f) => readFileSync(join(x, 'siem-agent-bundle', f), 'utf8').includes('a5b-shadow-hash'));
    expect(hits, `root-only content copied into the bundle (mode ${(statSync(bundle).mode & 0o777).toString(8)}) as: ${hits.join(', ')}`).toEqual([]);
    // and the bundle says what it left out, and why (stderr too)
    const versions = readFileSync(join(x, 'siem-agent-bundle', 'versions.txt'), 'utf8');
    for (const name of ['export_log.state', 'siem_agent.log']) {
      expect(versions).toMatch(new RegExp(`^skipped \\S*/${name.replace('.', '\\.')}: .*symbolic link owned by uid ${uid(AGENT)}.*not followed$`, 'm'));
      expect(res.stderr).toContain(`${name}: `);
    }
  }, 30_000);

  it('bundle as root: links root made (an admin\'s own) are followed', async () => {
    const base = dir(AGENT);
    const elsewhere = dir();
    const cfg = config(elsewhere);
    const link = join(base, 'config.json');
    symlinkSync(cfg, link);
    writeFileSync(join(elsewhere, 'agent.log'), '2026-11-20 10:00:00,000-siem-agent-INFO-root-linked log line\n');
    symlinkSync(join(elsewhere, 'agent.log'), join(base, 'siem_agent.log'));
    writeFileSync(join(elsewhere, 'state'), '{"format":"siem-agent-state","version":1,"apps":{}}');
    symlinkSync('../' + elsewhere.split('/').pop() + '/state', join(base, 'export_log.state')); // a relative link
    const out = join(tmp('sa-a5b-bundle-'), 'b.tgz');
    const res = await run(BIN, ['bundle', '--config', link, '--log_file', join(base, 'siem_agent.log'), '--out_file', out]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const m = members(out);
    expect(m['siem_agent.log']).toContain('root-linked log line');
    expect(m['export_log.state']).toContain('siem-agent-state');
    expect(JSON.parse(m['config.redacted.json']!).key_secret).toBe('***');
    expect(m['versions.txt']).not.toContain('skipped');
  }, 30_000);

  it('bundle run as the service user: its own links are followed', async () => {
    const base = dir(AGENT);
    const cfg = config(base, AGENT);
    const real = join(base, 'real.log');
    writeFileSync(real, '2026-11-20 10:00:00,000-siem-agent-INFO-own-linked log line\n');
    chownSync(real, uid(AGENT), gid(AGENT));
    expect((await asUser(AGENT, 'ln', ['-s', real, join(base, 'siem_agent.log')])).code).toBe(0);
    const out = join(base, 'b.tgz');
    const res = await asUser(AGENT, BIN, ['bundle', '--config', cfg, '--log_file', join(base, 'siem_agent.log'), '--out_file', out]);
    expect(res.code, res.stderr).toBe(0);
    expect(members(out)['siem_agent.log']).toContain('own-linked log line');
  }, 30_000);
});
