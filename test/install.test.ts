// install.sh in a scratch root (--prefix): what it writes, idempotence, systemd, uninstall, old Node.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tmp } from './helpers/agent.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const install = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('bash', [join(ROOT, 'install.sh'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

/** Hash of every file, link and mode under a directory (node_modules and dist included). */
function snapshot(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${p} ${st.mode}\n`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('install.sh --prefix', () => {
  const prefix = tmp('sa-install-');
  const flags = '-o FILE -f /var/log/cloudsoc.cef --heartbeat';

  it('installs the agent, links it onto the PATH and writes a cron file', () => {
    const r = install(['--prefix', prefix, '--cron', '--flags', flags]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const link = join(prefix, 'usr/local/bin/siem-agent');
    expect(readlinkSync(link)).toBe('../../../opt/siem-agent/bin/siem-agent');
    const v = spawnSync(link, ['-v'], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(VERSION);
    expect(existsSync(join(prefix, 'opt/siem-agent/dist/siem-agent.cjs'))).toBe(true);
    expect(existsSync(join(prefix, 'opt/siem-agent/node_modules/typescript'))).toBe(false); // dev deps pruned
    expect(existsSync(join(prefix, 'opt/siem-agent/test'))).toBe(false);
    for (const d of ['var/log/siem-agent', 'etc/siem-agent']) expect(statSync(join(prefix, d)).mode & 0o777).toBe(0o750);
    const cron = readFileSync(join(prefix, 'etc/cron.d/siem-agent'), 'utf8');
    expect(cron).toMatch(new RegExp(`^\\*/10 \\* \\* \\* \\* siem-agent exec /usr/local/bin/siem-agent --config /etc/siem-agent/config.json ${flags} >/dev/null$`, 'm'));
    expect(statSync(join(prefix, 'etc/cron.d/siem-agent')).mode & 0o777).toBe(0o600); // it may hold SIEM_AGENT_PROXY_PASSWORD
    // the user has no home: Node's compile cache goes to a directory of its own (bin/compile-cache.js)
    expect(cron).toMatch(/^XDG_CACHE_HOME=\/var\/cache$/m);
    expect(statSync(join(prefix, 'var/cache/siem-agent')).mode & 0o777).toBe(0o700);
  }, 120_000);

  it('a second run changes nothing', () => {
    const before = snapshot(prefix);
    const r = install(['--prefix', prefix, '--cron', '--flags', flags]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/up to date/);
    expect(snapshot(prefix)).toBe(before);
  }, 120_000);

  it('--systemd writes a service and a timer instead of the cron file', () => {
    const r = install(['--prefix', prefix, '--systemd', '--flags', flags, '--user', 'svc']);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(prefix, 'etc/cron.d/siem-agent'))).toBe(false);
    const svc = readFileSync(join(prefix, 'etc/systemd/system/siem-agent.service'), 'utf8');
    expect(svc).toMatch(/^Type=oneshot$/m);
    expect(svc).toMatch(/^User=svc$/m);
    expect(svc).toContain(`ExecStart=/usr/local/bin/siem-agent --config /etc/siem-agent/config.json ${flags}`);
    expect(svc).toMatch(/^Environment=XDG_CACHE_HOME=\/var\/cache$/m);
    expect(svc).toMatch(/^CacheDirectory=siem-agent$/m);
    expect(svc).toMatch(/^CacheDirectoryMode=0700$/m);
    const timer = readFileSync(join(prefix, 'etc/systemd/system/siem-agent.timer'), 'utf8');
    expect(timer).toMatch(/^OnUnitActiveSec=10min$/m);
    expect(timer).toMatch(/^WantedBy=timers.target$/m);
  }, 120_000);

  it('--uninstall removes what it added and keeps config.json, state and logs', () => {
    writeFileSync(join(prefix, 'etc/siem-agent/config.json'), '{}');
    writeFileSync(join(prefix, 'etc/siem-agent/export_log.state'), '{}');
    const r = install(['--prefix', prefix, '--uninstall']);
    expect(r.status, r.stderr).toBe(0);
    for (const p of ['opt/siem-agent', 'usr/local/bin/siem-agent', 'etc/systemd/system/siem-agent.service', 'etc/systemd/system/siem-agent.timer', 'etc/cron.d/siem-agent', 'var/cache/siem-agent']) {
      expect(existsSync(join(prefix, p)), p).toBe(false);
    }
    expect(existsSync(join(prefix, 'etc/siem-agent/config.json'))).toBe(true);
    expect(existsSync(join(prefix, 'etc/siem-agent/export_log.state'))).toBe(true);
    expect(existsSync(join(prefix, 'var/log/siem-agent'))).toBe(true);
  });

  it('refuses a Node.js older than 20.18 with a clear message', () => {
    const bin = tmp('sa-oldnode-');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho v18.19.0\n');
    chmodSync(join(bin, 'node'), 0o755);
    const r = install(['--prefix', tmp('sa-install2-')], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('siem-agent needs Node.js 20.18.1 or later (found v18.19.0); install a current LTS from your distribution or nodesource');
  });
});
