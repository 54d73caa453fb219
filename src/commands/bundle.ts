import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, release, tmpdir, platform } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { redactArgv } from '../flags.js';
import { redactUserinfo } from '../redact.js';
import { trustedPath } from '../links.js';
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

/**
 * A window day: YYYY-MM-DD, a real day. Any day is accepted, tomorrow's included (a support
 * window may end tomorrow, and a host east of UTC dates its lines ahead of UTC).
 */
function windowDay(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00.000Z`) : undefined;
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new UsageError(`${flag}: expected a day as YYYY-MM-DD, got "${value}"`);
  }
  return value;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** The day of `d` on this host's calendar (its time zone, as the text log writes it). */
const localDay = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

/** This host's time zone, named for versions.txt: `Europe/Berlin, UTC+01:00 now`. */
function zoneLabel(): string {
  const off = -new Date().getTimezoneOffset();
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'local';
  return `${name}, UTC${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)} now`;
}

/**
 * The day of a log line on this host's calendar: a text line's own date (the old agent's asctime,
 * local time); a JSON line's created_at (UTC) converted to this host's local day.
 */
function lineDay(line: string): string | undefined {
  const text = /^(\d{4}-\d{2}-\d{2}) \d{2}:/.exec(line)?.[1];
  if (text) return text;
  const created = /"created_at":"([^"]+)"/.exec(line)?.[1];
  if (!created) return undefined;
  const t = new Date(created);
  return Number.isNaN(t.getTime()) ? /^\d{4}-\d{2}-\d{2}/.exec(created)?.[0] : localDay(t);
}

/** Log lines whose day (see lineDay) is inside [from, to]; undated lines only without a window. */
function inWindow(line: string, from?: string, to?: string): boolean {
  const day = lineDay(line);
  if (!day) return from === undefined && to === undefined;
  return (from === undefined || day >= from) && (to === undefined || day <= to);
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0; // a FIFO planted in place of a file must not hang bundle

/**
 * Opens a file for the bundle. The state and log directories belong to the service user, and a
 * link it planted there (to /etc/shadow, say) must not put a file only root may read into a
 * bundle made by root: links on the path are followed only when root or the running user made
 * them (links.ts), and the file itself is opened with O_NOFOLLOW, so one swapped in after the
 * check is not followed either. Undefined when there is no such file, or why it was skipped.
 */
function openForBundle(path: string): { fd: number } | { skipped: string } | undefined {
  const t = trustedPath(path);
  if (t.why !== undefined) return { skipped: t.why };
  let fd: number;
  try {
    fd = openSync(t.path, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return { skipped: code === 'ELOOP' ? 'it became a symbolic link while being read; not followed' : `cannot read it (${code ?? String(e)})` };
  }
  try {
    if (fstatSync(fd).isFile()) return { fd };
    closeSync(fd);
    return { skipped: 'it is not a regular file' };
  } catch (e) {
    closeSync(fd);
    return { skipped: `cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
}

/** Writes `data` to `path` (resolved by trustedPath), never through a link put there since; 0600: it holds logs. */
function writeNoFollow(path: string, data: Buffer): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOFOLLOW, 0o600);
  try {
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** `siem-agent bundle`: a tar.gz for support. */
export async function bundle(f: BundleFlags): Promise<number> {
  const from = windowDay('--date_from', f.date_from);
  const to = windowDay('--date_to', f.date_to);
  if (from !== undefined && to !== undefined && from > to) {
    throw new UsageError(`--date_from ${from} is after --date_to ${to}: no day is in that window`);
  }
  const configPath = resolve(f.config);
  const stateDir = resolve(f.state_dir ?? dirname(configPath));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = resolve(f.out_file ?? `siem-agent-bundle-${stamp}.tar.gz`);
  // written, not read: a link planted at --out_file must not have root overwrite what it names
  const outPath = trustedPath(out);
  if (outPath.why !== undefined) throw new UsageError(`--out_file ${out}: ${outPath.why}`);
  const skipped: string[] = [];
  /** A file's bytes (see openForBundle); undefined when it is absent or skipped (noted). */
  const read = (path: string): Buffer | undefined => {
    const o = openForBundle(path);
    if (!o) return undefined;
    if ('skipped' in o) {
      skipped.push(`skipped ${path}: ${o.skipped}`);
      return undefined;
    }
    try {
      return readFileSync(o.fd);
    } catch (e) {
      skipped.push(`skipped ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      return undefined;
    } finally {
      closeSync(o.fd);
    }
  };
  const work = mkdtempSync(join(tmpdir(), 'siem-agent-bundle-'));
  const dir = join(work, 'siem-agent-bundle');
  execFileSync('mkdir', ['-p', dir]);
  try {
    const logs: string[] = [];
    // the agent rotates its log beside the file an (admin's) link names, so its backups are there
    const resolved = trustedPath(f.log_file);
    const logBase = resolved.why === undefined ? resolved.path : f.log_file;
    for (let i = LOG_BACKUPS; i >= 0; i--) {
      const text = read(i === 0 ? f.log_file : `${logBase}.${i}`)?.toString('utf8');
      if (text !== undefined) logs.push(...text.split('\n').filter((l) => l !== '' && inWindow(l, from, to)));
    }
    writeFileSync(join(dir, 'siem_agent.log'), logs.length ? `${logs.join('\n')}\n` : '');
    const state = read(join(stateDir, STATE_FILE));
    if (state !== undefined) writeFileSync(join(dir, STATE_FILE), state);
    const config = read(configPath);
    if (config !== undefined) writeFileSync(join(dir, 'config.redacted.json'), redactConfig(config.toString('utf8')));
    let lastFlags = '(no last_job.status)';
    const status = read(join(stateDir, STATUS_FILE));
    if (status !== undefined) {
      try {
        // redacted again: a status written by an older version may hold what this one masks
        const st = JSON.parse(status.toString('utf8')) as { argv?: string[] };
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
      `log window days: this host's time zone (${zoneLabel()}), as the text log writes them; JSON lines' created_at (UTC) converted to it`,
      `last run flags: ${lastFlags}`, ...skipped, '',
    ].join('\n'));
    const tarball = join(work, 'bundle.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', work, 'siem-agent-bundle']);
    writeNoFollow(outPath.path, readFileSync(tarball));
    for (const s of skipped) process.stderr.write(`siem-agent: bundle: ${s}\n`);
    process.stdout.write(`${out}\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
