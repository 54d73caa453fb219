import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { writeFileAtomic } from './atomic-write.js';
import { pidAlive } from './lock.js';

export const STATUS_FILE = 'last_job.status';

export interface AppProgress {
  query?: string;      // path and query of the first request (no secrets in it)
  cursor?: string | null; // meta.next of the last page fetched
  delivered: number;
  duplicates: number;
  pages: number;
  retries: number;
  truncated: number;
  marker?: string;
  total?: number;         // the API's total_count on the first page (informational)
  lag_seconds?: number;
  gap?: { from: string; to: string; seconds: number }; // logs lost to retention, if any
  error?: string;
}

export interface JobStatus {
  version: string;
  pid: number;
  host: string;
  run_id: string;
  argv: string[];
  started_at: string;
  finished_at?: string;
  result: 'running' | 'ok' | 'failed' | 'interrupted';
  error?: string;
  apps: Record<string, AppProgress>;
}

/**
 * Whether this status is of a run that died: in progress, on this host, its pid gone (a killed
 * run's lock looks fresh for up to 30 s; its pid says at once).
 */
export function diedHere(s: JobStatus | undefined): boolean {
  return s?.result === 'running' && s.host === hostname() && !pidAlive(s.pid);
}

export async function readStatus(stateDir: string): Promise<JobStatus | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATUS_FILE), 'utf8')) as JobStatus;
  } catch {
    return undefined; // a missing or torn status is only informational
  }
}

/** last_job.status is a progress report, not a checkpoint: no fsync, but still atomic. */
export function writeStatus(stateDir: string, status: JobStatus): Promise<void> {
  return writeFileAtomic(join(stateDir, STATUS_FILE), `${JSON.stringify(status, null, 1)}\n`, { fsync: false });
}

export async function clearStatus(stateDir: string): Promise<void> {
  await rm(join(stateDir, STATUS_FILE), { force: true });
}
