import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advanceMarker, loadMarkers, loadState, MarkerStore } from '../src/state/marker.js';
import { Dedup } from '../src/source/dedup.js';
import { checkSelection, startPoint, filtersFor, filtersKey } from '../src/plan.js';
import { StateError } from '../src/errors.js';
import type { LogRecord } from '../src/types.js';

const r = (id: string, ts: string): LogRecord => ({ _id: id, created_timestamp: ts });
const T1 = '2026-11-22T10:00:00.000Z';
const T2 = '2026-11-22T10:00:01.000Z';

describe('advanceMarker', () => {
  it('keeps every id at the newest timestamp', () => {
    expect(advanceMarker(undefined, [r('a', T1), r('b', T2), r('c', T2)])).toEqual({ timestamp: T2, ids: ['b', 'c'] });
  });
  it('accumulates ids of a tie group across pages and runs', () => {
    const m1 = advanceMarker(undefined, [r('a', T1), r('b', T2)]);
    expect(advanceMarker(m1, [r('c', T2)])).toEqual({ timestamp: T2, ids: ['b', 'c'] });
  });
  it('never moves back', () => {
    const m = { timestamp: T2, ids: ['x'] };
    expect(advanceMarker(m, [r('a', T1)])).toBe(m);
  });
  it('leaves the marker alone for an empty page', () => {
    expect(advanceMarker(undefined, [])).toBeUndefined();
  });
});

describe('state file', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'sa-state-'));
  it('round-trips both apps', async () => {
    const d = dir();
    const store = new MarkerStore(d, {});
    await store.commit('Investigate', { timestamp: T1, ids: ['a'] });
    await store.commit('Detect', { timestamp: T2, ids: [] });
    expect(await loadMarkers(d)).toEqual({ Investigate: { timestamp: T1, ids: ['a'] }, Detect: { timestamp: T2, ids: [] } });
  });
  it('group commit: commits made before a write starts share it, each resolving once its marker is on disk', async () => {
    const d = dir();
    const store = new MarkerStore(d, {});
    const onDisk = async (p: Promise<void>) => { await p; return loadMarkers(d); };
    // the same tick: one write carries both apps
    const [a, b] = await Promise.all([onDisk(store.commit('Investigate', { timestamp: T1, ids: ['a'] })), onDisk(store.commit('Detect', { timestamp: T1, ids: ['b'] }))]);
    expect(store.writes).toBe(1);
    for (const m of [a, b]) expect(m).toEqual({ Investigate: { timestamp: T1, ids: ['a'] }, Detect: { timestamp: T1, ids: ['b'] } });
    // while a write is in flight: the commits made meanwhile share the next one
    const c = onDisk(store.commit('Investigate', { timestamp: T2, ids: ['c'] }));
    for (let i = 0; i < 50 && store.writes < 2; i++) await Promise.resolve();
    expect(store.writes).toBe(2); // that write has started
    const e = onDisk(store.commit('Detect', { timestamp: T2, ids: ['e'] }));
    const f = onDisk(store.commit('Investigate', { timestamp: T2, ids: ['f'] }));
    expect((await c).Investigate).toEqual({ timestamp: T2, ids: ['c'] });
    for (const m of [await e, await f]) expect(m).toEqual({ Investigate: { timestamp: T2, ids: ['f'] }, Detect: { timestamp: T2, ids: ['e'] } });
    expect(store.writes).toBe(3);
  });
  it('a failed write fails that commit and every later one (the run stops there)', async () => {
    const d = dir();
    const store = new MarkerStore(join(d, 'missing'), {});
    await expect(store.commit('Investigate', { timestamp: T1, ids: [] })).rejects.toThrow(/ENOENT/);
    await expect(store.commit('Detect', { timestamp: T1, ids: [] })).rejects.toThrow(/ENOENT/);
  });
  it('treats a missing file as a first run', async () => {
    expect(await loadMarkers(dir())).toEqual({});
  });
  for (const [what, content, msg] of [
    ['empty', '', /empty/],
    ['truncated', '{"format":"siem-agent-state","vers', /truncated or corrupt/],
    ['foreign', '{"a":1}', /not a siem-agent state file/],
    ['future', '{"format":"siem-agent-state","version":9,"apps":{}}', /newer siem-agent/],
    ['bad marker', '{"format":"siem-agent-state","version":1,"apps":{"Detect":{"timestamp":"nope","ids":[]}}}', /corrupt/],
  ] as const) {
    it(`refuses a ${what} state file and names both ways out`, async () => {
      const d = dir();
      writeFileSync(join(d, 'export_log.state'), content);
      await expect(loadMarkers(d)).rejects.toThrow(msg);
      await expect(loadMarkers(d)).rejects.toThrow(/-r.*--start_date/);
    });
  }
});

describe('Dedup', () => {
  it('drops the marker ids and anything older than the start', () => {
    const d = new Dedup({ timestamp: T1, ids: ['a'] }, Date.parse(T1));
    expect(d.isRepeat('a', Date.parse(T1))).toBe(true);
    expect(d.isRepeat('b', Date.parse(T1))).toBe(false);
    expect(d.isRepeat('z', Date.parse(T1) - 1)).toBe(true);
  });
  it('remembers recent pages and whole tie groups at the window floor', () => {
    const d = new Dedup(undefined, 0);
    const page = (ids: string[], ts: string) => d.remember(ids.map((i) => r(i, ts)), ids.map(() => Date.parse(ts)));
    page(['a1', 'a2'], T1);
    page(['a3', 'a4'], T1);
    page(['a5'], T1);
    page(['b1'], T2);
    page(['b2'], T2);
    // the tie group at T1 is still inside the window (floor = T1): its ids are kept
    expect(d.isRepeat('a1', Date.parse(T1))).toBe(true);
    page(['b3'], T2);
    expect(d.isRepeat('a1', Date.parse(T1))).toBe(true); // now older than the floor
    expect(d.isRepeat('b1', Date.parse(T2))).toBe(true);
    expect(d.isRepeat('new', Date.parse(T2))).toBe(false);
  });
});

describe('startPoint and filters', () => {
  const now = Date.parse('2026-11-24T00:00:00.000Z');
  it('starts at the oldest retained time without a marker', () => {
    const sp = startPoint(undefined, {}, now);
    expect(Date.parse(sp.start)).toBeGreaterThan(now - 180 * 86400e3);
    expect(sp.gap).toBeUndefined();
  });
  it('reports the gap for a marker older than retention', () => {
    const sp = startPoint({ timestamp: '2025-01-01T00:00:00.000Z', ids: ['x'] }, {}, now);
    expect(sp.gap?.from).toBe('2025-01-01T00:00:00.000Z');
    expect(sp.gap!.seconds).toBeGreaterThan(100 * 86400);
    expect(sp.marker?.ids).toEqual([]);
  });
  it('--start_date replaces the marker', () => {
    const sp = startPoint({ timestamp: T1, ids: ['x'] }, { startDate: '2026-11-20' }, now);
    expect(sp).toMatchObject({ start: '2026-11-20T00:00:00.000Z', replaceMarker: true });
  });
  it('sends each app only its own severities', () => {
    expect(filtersFor('Investigate', {})?.severity).toEqual(['error', 'critical', 'warning']);
    expect(filtersFor('Detect', {})?.severity).toEqual(['high', 'medium', 'low']);
    expect(filtersFor('Detect', { severity: ['error', 'high'] })?.severity).toEqual(['high']);
    expect(filtersFor('Detect', { severity: ['error'] })).toBeUndefined();
    expect(filtersFor('Investigate', { severity: ['all'] })?.severity).toBeUndefined();
  });
});

describe('one marker, one selection', () => {
  it('filtersKey: the same selection gives the same key whatever the order; none is "no filter"', () => {
    expect(filtersKey({ severity: ['low', 'high'], service: ['Box'] })).toBe(filtersKey({ service: ['Box'], severity: ['high', 'low'] }));
    expect(filtersKey({ severity: ['high', 'low'] })).toBe('severity=high,low');
    expect(filtersKey({})).toBe('no filter');
  });

  it('checkSelection: nothing for the same or an unrecorded selection, a warning for --start_date or a dry run, else a StateError', () => {
    const m = { timestamp: '2026-11-20T10:00:00.000Z', ids: ['a'] };
    const o = { startDate: undefined, dryRun: false };
    expect(checkSelection('Detect', m, 'severity=high', 'severity=high', o)).toBeUndefined();
    expect(checkSelection('Detect', m, undefined, 'severity=high', o)).toBeUndefined();
    expect(checkSelection('Detect', undefined, 'no filter', 'severity=high', o)).toBeUndefined();
    expect(checkSelection('Detect', m, 'no filter', 'severity=high', { ...o, startDate: '2026-11-01' })).toMatch(/--start_date: the marker is for severity=high from now on/);
    expect(checkSelection('Detect', m, 'no filter', 'severity=high', { ...o, dryRun: true })).toMatch(/a dry run moves nothing/);
    const e = checkSelection('Detect', m, 'no filter', 'severity=high', o);
    expect(e).toBeInstanceOf(StateError);
    expect((e as StateError).message).toMatch(/--start_date 2026-11-20$/);
  });

  it('the state file keeps each marker\'s selection, and an older file without one still loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-sel-'));
    const store = new MarkerStore(dir, {}, undefined, { Detect: 'severity=high' });
    await store.commit('Detect', { timestamp: '2026-11-20T10:00:00.000Z', ids: ['a'] });
    expect((await loadState(dir)).filters).toEqual({ Detect: 'severity=high' });
    writeFileSync(join(dir, 'export_log.state'), JSON.stringify({ format: 'siem-agent-state', version: 1, apps: { Detect: { timestamp: '2026-11-20T10:00:00.000Z', ids: ['a'] } } }));
    const old = await loadState(dir);
    expect(old.filters).toEqual({});
    expect(old.markers.Detect).toEqual({ timestamp: '2026-11-20T10:00:00.000Z', ids: ['a'] });
  });
});
