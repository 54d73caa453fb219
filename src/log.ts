import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { trustedPathOrThrow } from './links.js';

export type Level = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  readonly runId: string;
  /** Any of these strings is replaced by *** wherever it would be written. */
  addSecret(s: string | undefined): void;
  close(): Promise<void>;
}

export interface LogOptions {
  debug: boolean;
  file?: string;            // undefined = no file
  format: 'text' | 'json';
  /** Where to show messages on the terminal; summary lines only when `verbose`. */
  stderr: (line: string) => void;
  verbose: boolean;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** The old agent's asctime: local time, `2026-11-22 17:27:07,833`. */
export function asctime(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
}

/**
 * A random (version 4) UUID for the run. From /dev/urandom rather than node:crypto's randomUUID:
 * loading node:crypto costs 4-10 ms of CPU on every run (measured here), for 16 bytes.
 */
export function runUuid(): string {
  const b = Buffer.alloc(16);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      readSync(fd, b, 0, 16, null);
    } finally {
      closeSync(fd);
    }
  } catch {
    for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const LOG_ROTATE_SIZE = '10M';
export const LOG_BACKUPS = 5;

export async function createLogger(o: LogOptions): Promise<Logger> {
  const runId = runUuid();
  const host = hostname();
  const secrets: string[] = [];
  const scrub = (s: string) => {
    let out = s;
    for (const sec of secrets) if (out.includes(sec)) out = out.split(sec).join('***');
    return out;
  };
  let file: Writable | undefined;
  let fileFailed = false;
  const failFile = (e: unknown) => {
    if (fileFailed) return;
    fileFailed = true;
    file = undefined;
    const err = e as NodeJS.ErrnoException;
    o.stderr(`siem-agent: cannot write the agent log ${o.file} (${err.code === 'ELINK' ? err.message : err.code ?? String(e)}); continuing without it (--log_file PATH to change)`);
  };
  if (o.file) {
    try {
      // a link on the path only when this user or root made it (links.ts); rotating-file-stream
      // then works on the resolved path
      const path = trustedPathOrThrow(o.file);
      mkdirSync(dirname(path), { recursive: true });
      const rfs = await import('rotating-file-stream');
      file = rfs.createStream((index) => (index ? `${path}.${index}` : path) as string, { size: LOG_ROTATE_SIZE, rotate: LOG_BACKUPS });
      file.on('error', failFile);
    } catch (e) {
      failFile(e);
    }
  }
  let seq = 0;
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (level === 'DEBUG' && !o.debug) return;
    const clean = scrub(msg);
    if (level === 'ERROR' || level === 'WARNING' || o.debug || o.verbose) {
      o.stderr(level === 'INFO' ? clean : `${level}: ${clean}`);
    }
    if (!file) return;
    const now = new Date();
    const line = o.format === 'json'
      // the message masked before JSON escapes it (a secret with a " or \ would no longer match after)
      ? scrub(JSON.stringify({ id: `${runId}-${++seq}`, created_at: now.toISOString(), hostname: host, level, pid: process.pid, run_id: runId, message: clean, ...fields }))
      : `${asctime(now)}-siem-agent-${level}-${clean}`;
    file.write(`${line}\n`);
  };
  return {
    runId,
    debug: (m, f) => emit('DEBUG', m, f),
    info: (m, f) => emit('INFO', m, f),
    warn: (m, f) => emit('WARNING', m, f),
    error: (m, f) => emit('ERROR', m, f),
    addSecret: (s) => {
      if (s && s.length >= 3) secrets.push(s);
    },
    close: () => new Promise<void>((resolve) => {
      if (!file) return resolve();
      const f = file;
      f.once('error', () => resolve());
      f.end(() => resolve());
    }),
  };
}
