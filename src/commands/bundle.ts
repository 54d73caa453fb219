import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, release, tmpdir, platform } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isoDay, redactArgv } from '../flags.js';
import { redactUserinfo } from '../redact.js';
import { STATE_FILE } from '../state/marker.js';
import { STATUS_FILE } from '../state/status.js';
import { LOG_BACKUPS } from '../log.js';
import { VERSION } from '../version.js';

export interface BundleFlags { config: string; state_dir?: string; log_file: string; date_from?: string; date_to?: string; out_file?: string }

const SECRET_KEYS = /secret|password|token/i;

/**
 * The config without secrets: secret values replaced (at any depth), key_id shortened, and any
 * user:password@ in a URL masked (a config refused for holding credentials in api_server is the
 * very one a user sends to support).
 */
export function redactConfig(text: string): string {
  const clean = (v: unknown, key: string): unknown => {
    if (SECRET_KEYS.test(key)) return '***';
    if (key === 'key_id' && typeof v === 'string') return `${v.slice(0, 4)}***`;
    if (typeof v === 'string') return v.includes('@') ? redactUserinfo(v) : v;
    if (Array.isArray(v)) return v.map((x) => clean(x, ''));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x, k)]));
    return v;
  };
  try {
    return `${JSON.stringify(clean(JSON.parse(text), ''), null, 2)}\n`;
  } catch {
    return '(config.json is not valid JSON; not included)\n';
  }
}

/** Log lines whose date (text: `YYYY-MM-DD ...`; json: created_at) is inside [from, to]. */
function inWindow(line: string, from?: string, to?: string): boolean {
  const day = /^(\d{4}-\d{2}-\d{2})/.exec(line)?.[1] ?? /"created_at":"(\d{4}-\d{2}-\d{2})/.exec(line)?.[1];
  if (!day) return from === undefined && to === undefined;
  return (from === undefined || day >= from) && (to === undefined || day <= to);
}

/** `siem-agent bundle`: a tar.gz for support. */
export async function bundle(f: BundleFlags): Promise<number> {
  const from = isoDay('--date_from', f.date_from);
  const to = isoDay('--date_to', f.date_to);
  const configPath = resolve(f.config);
  const stateDir = resolve(f.state_dir ?? dirname(configPath));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = resolve(f.out_file ?? `siem-agent-bundle-${stamp}.tar.gz`);
  const work = mkdtempSync(join(tmpdir(), 'siem-agent-bundle-'));
  const dir = join(work, 'siem-agent-bundle');
  execFileSync('mkdir', ['-p', dir]);
  try {
    const logs: string[] = [];
    for (let i = LOG_BACKUPS; i >= 0; i--) {
      const p = i === 0 ? f.log_file : `${f.log_file}.${i}`;
      if (existsSync(p)) logs.push(...readFileSync(p, 'utf8').split('\n').filter((l) => l !== '' && inWindow(l, from, to)));
    }
    writeFileSync(join(dir, 'siem_agent.log'), logs.length ? `${logs.join('\n')}\n` : '');
    if (existsSync(join(stateDir, STATE_FILE))) copyFileSync(join(stateDir, STATE_FILE), join(dir, STATE_FILE));
    if (existsSync(configPath)) writeFileSync(join(dir, 'config.redacted.json'), redactConfig(readFileSync(configPath, 'utf8')));
    let lastFlags = '(no last_job.status)';
    if (existsSync(join(stateDir, STATUS_FILE))) {
      const text = readFileSync(join(stateDir, STATUS_FILE), 'utf8');
      try {
        // redacted again: a status written by an older version may hold what this one masks
        const st = JSON.parse(text) as { argv?: string[] };
        if (Array.isArray(st.argv)) st.argv = redactArgv(st.argv.map(String));
        lastFlags = st.argv?.join(' ') ?? '';
        writeFileSync(join(dir, STATUS_FILE), `${JSON.stringify(st, null, 2)}\n`);
      } catch {
        lastFlags = '(last_job.status is not valid JSON; not included)';
      }
    }
    writeFileSync(join(dir, 'versions.txt'), [
      `siem-agent ${VERSION}`, `node ${process.version}`, `platform ${platform()} ${release()}`, `host ${hostname()}`,
      `created ${new Date().toISOString()}`, `log window ${from ?? 'start'} .. ${to ?? 'end'} (${logs.length} lines from ${basename(f.log_file)})`,
      `last run flags: ${lastFlags}`, '',
    ].join('\n'));
    execFileSync('tar', ['-czf', out, '-C', work, 'siem-agent-bundle']);
    process.stdout.write(`${out}\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
