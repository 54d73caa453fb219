import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateError } from '../errors.js';
import { apiTimeMs } from '../time.js';
import type { AppName, LogRecord } from '../types.js';
import { writeFileAtomic } from './atomic-write.js';

/** Where an app's stream stopped: the last delivered timestamp and every _id delivered at exactly it. */
export interface Marker {
  timestamp: string; // ISO 8601 with ms, as the API wants it back
  ids: string[];
}

export const STATE_FILE = 'export_log.state';
const FORMAT = 'siem-agent-state';
const VERSION = 1;

interface StateDoc {
  format: typeof FORMAT;
  version: number;
  /** `filters`: the selection the marker is for (see filtersKey); absent in files before it was kept. */
  apps: Partial<Record<AppName, Marker & { filters?: string; updated_at?: string }>>;
}

const WAYS_OUT = 'start over from the earliest log with -r, or from a given day with --start_date YYYY-MM-DD';

/** Missing file = first run (empty). Anything unreadable is an error: never restart or skip silently. */
export async function loadMarkers(stateDir: string): Promise<Partial<Record<AppName, Marker>>> {
  return (await loadState(stateDir)).markers;
}

export interface LoadedState {
  markers: Partial<Record<AppName, Marker>>;
  /** Per app, the selection its marker is for, when the file says. */
  filters: Partial<Record<AppName, string>>;
  /** The file's text as read (undefined: no file), for MarkerStore's ownership check. */
  text: string | undefined;
}

export async function loadState(stateDir: string): Promise<LoadedState> {
  const path = join(stateDir, STATE_FILE);
  const text = await readState(path);
  const filters: Partial<Record<AppName, string>> = {};
  return { markers: text === undefined ? {} : parseState(path, text, filters), filters, text };
}

async function readState(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const code = (e as NodeJS.ErrnoException).code;
    // typically a run as root (sudo) left the file root's: starting over would re-send everything
    if (code === 'EACCES' || code === 'EPERM') {
      throw new StateError(`state ${path}: cannot read (${code}): permission denied; give it back to the user the agent runs as (chown), and keep it: it holds the marker`);
    }
    throw new StateError(`state ${path}: cannot read (${code}); ${WAYS_OUT}`);
  }
}

function parseState(path: string, text: string, filters: Partial<Record<AppName, string>> = {}): Partial<Record<AppName, Marker>> {
  const bad = (why: string) => new StateError(`state ${path}: ${why}; ${WAYS_OUT}`);
  if (text.trim() === '') throw bad('file is empty');
  let doc: StateDoc;
  try {
    doc = JSON.parse(text) as StateDoc;
  } catch {
    throw bad('file is truncated or corrupt (not valid JSON)');
  }
  if (!doc || typeof doc !== 'object' || doc.format !== FORMAT || typeof doc.apps !== 'object' || doc.apps === null) {
    throw bad('not a siem-agent state file');
  }
  if (typeof doc.version !== 'number' || doc.version > VERSION) {
    throw bad(`written by a newer siem-agent (state version ${String(doc.version)}, this agent reads ${VERSION})`);
  }
  const out: Partial<Record<AppName, Marker>> = {};
  for (const [app, m] of Object.entries(doc.apps)) {
    if (app !== 'Investigate' && app !== 'Detect') throw bad(`unknown app "${app}"`);
    if (!m || typeof m.timestamp !== 'string' || Number.isNaN(apiTimeMs(m.timestamp)) || !Array.isArray(m.ids) || m.ids.some((id) => typeof id !== 'string')) {
      throw bad(`marker for ${app} is corrupt`);
    }
    out[app] = { timestamp: m.timestamp, ids: m.ids };
    if (typeof m.filters === 'string') filters[app] = m.filters;
  }
  return out;
}

/**
 * Holds both apps' markers and writes them as one file, one write at a time. Group commit: a
 * commit made while a write is in flight joins the next write, which renders every marker set
 * before it starts; each commit resolves only once a write that holds its marker is on disk.
 * So when writes are slower than pages arrive (a disk whose fsync takes milliseconds, both apps
 * committing), commits queued behind a write share one temp file, fsync, rename and directory
 * fsync, and the marker keeps pace. (On this project's machine fsync is fast: a 20-page run
 * makes 20 writes either way.)
 */
export class MarkerStore {
  private last: Promise<void> = Promise.resolve(); // the write in flight, or the latest one
  private queued: Promise<void> | undefined; // the next write, not started yet
  /** Writes started so far (the tests count them). */
  writes = 0;
  /** Set when the ownership check found another run's file: this run must write nothing more. */
  lost = false;
  /**
   * `owned`: the file's text as this run last read or wrote it. Given, every write first checks
   * that the file still holds exactly that: a run frozen past the lock's staleness (SIGSTOP, a
   * suspended VM) loses its lock to the next run, and must not then put its older markers back
   * over the newer run's (the next run would send everything after them again).
   */
  constructor(
    readonly stateDir: string,
    private markers: Partial<Record<AppName, Marker>>,
    private owned?: { text: string | undefined },
    /** Written with each app's marker: the selection it is for. */
    readonly filters: Partial<Record<AppName, string>> = {},
  ) {}

  get(app: AppName): Marker | undefined {
    return this.markers[app];
  }

  commit(app: AppName, marker: Marker | undefined): Promise<void> {
    if (marker) this.markers[app] = marker;
    else delete this.markers[app];
    // a failed write fails every later commit too (the chain stays rejected): the run stops
    this.queued ??= this.last = this.last.then(() => {
      this.queued = undefined; // from here on, a commit needs a write of its own
      this.writes++;
      return this.write(join(this.stateDir, STATE_FILE), this.render());
    });
    return this.queued;
  }

  private async write(path: string, text: string): Promise<void> {
    if (this.owned && (await readState(path)) !== this.owned.text) {
      this.lost = true;
      throw new StateError(`state ${path} was changed by another siem-agent run (this one was stopped for longer than the lock allows and lost its lock); stopping without writing it`);
    }
    await writeFileAtomic(path, text).catch((e: NodeJS.ErrnoException) => {
      throw new StateError(`state ${path}: cannot write the marker (${e.code === 'ENOSPC' ? 'disk full' : e.code ?? e.message}); the logs of this page go out again next run`);
    });
    if (this.owned) this.owned.text = text;
  }

  private render(): string {
    const doc: StateDoc = { format: FORMAT, version: VERSION, apps: {} };
    const now = new Date().toISOString();
    for (const [a, m] of Object.entries(this.markers) as [AppName, Marker][]) {
      doc.apps[a] = { ...m, ...(this.filters[a] !== undefined ? { filters: this.filters[a] } : {}), updated_at: now };
    }
    return `${JSON.stringify(doc)}\n`;
  }
}

/** What advanceMarker reads of a log. */
export type MarkerKey = Pick<LogRecord, '_id' | 'created_timestamp'>;

/**
 * The marker after delivering `records` (already in ascending time order) on top of `prev`:
 * the newest timestamp, and every id at it — including ids at that timestamp from earlier
 * pages or runs, so a tie group that straddles a cut is resumed without repeats.
 */
export function advanceMarker(prev: Marker | undefined, records: readonly MarkerKey[]): Marker | undefined {
  if (records.length === 0) return prev;
  const last = records[records.length - 1]!.created_timestamp;
  const lastMs = apiTimeMs(last);
  const ids: string[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (apiTimeMs(r.created_timestamp) !== lastMs) break;
    ids.push(r._id);
  }
  ids.reverse();
  const prevMs = prev ? apiTimeMs(prev.timestamp) : -Infinity;
  // a marker never moves back, even if the API hands us an out-of-order page
  if (prev && lastMs < prevMs) return prev;
  if (prev && prevMs === lastMs) {
    const seen = new Set(prev.ids);
    return { timestamp: prev.timestamp, ids: prev.ids.concat(ids.filter((id) => !seen.has(id))) };
  }
  return { timestamp: new Date(lastMs).toISOString(), ids };
}
