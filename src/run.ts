import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { loadConfig } from './config.js';
import { AgentError, ApiError, describe, InterruptedError, OutputError, StateError } from './errors.js';
import { FORMATS } from './format/index.js';
import type { Logger } from './log.js';
import { openOutput } from './output/index.js';
import { turns } from './output/turns.js';
import type { Output } from './output/types.js';
import { DEFAULT_MAX_LOGS, RAISED_MAX_LOGS, RETENTION_DAYS, type RunOptions } from './options.js';
import { burstFor, paced, TokenBucket } from './rate.js';
import { makeDispatcher } from './source/http.js';
import type { ClientContext } from './source/client.js';
import { firstQuery } from './source/pager.js';
import { acquireLock, LOCK_STALE_MS, LOCK_UPDATE_MS, lockHeld, lockMtime, removeDeadLock } from './state/lock.js';
import { loadState, MarkerStore, STATE_FILE } from './state/marker.js';
import { clearStatus, diedHere, readStatus, STATUS_FILE, writeStatus, type AppProgress, type JobStatus } from './state/status.js';
import { removeStaleTemps } from './state/atomic-write.js';
import { deliverApp } from './deliver.js';
import { checkSelection, oldestStart, startPoint, filtersFor, filtersKey } from './plan.js';
import { humanDuration, summaryLine } from './summary.js';
import { clockCheck } from './clock.js';
import { heartbeatRecord } from './heartbeat.js';
import { progressLine } from './progress.js';
import { VERSION } from './version.js';
import { apiTimeMs } from './time.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunResult {
  exitCode: number;
  apps: Record<string, AppProgress>;
}

/** One run: lock → per-app delivery (concurrent, bounded) → summary. Throws AgentError for fatal problems. */
export async function run(o: RunOptions, log: Logger, stop: AbortController): Promise<RunResult> {
  const { config, warnings } = loadConfig(o.configPath);
  log.addSecret(config.keySecret);
  log.addSecret(Buffer.from(`${config.keyId}:${config.keySecret}`).toString('base64'));
  for (const w of warnings) log.warn(w);
  if (o.http.insecure) log.warn('--insecure: the API\'s TLS certificate is NOT verified; anyone on the path can read the key and the logs');

  // a dry run touches no state: -c/-r only change where it starts (-r: from the earliest log)
  const clearing = (o.reset || o.clearStatus) && !o.dryRun;
  // -c/-r never take a live run's lock: a fresh lock is a live run's unless last_job.status shows
  // its run dead (and even then it is taken as by any run, below)
  const last = clearing ? await readStatus(o.stateDir) : undefined;
  if (clearing && (await lockHeld(o.stateDir)) && !diedHere(last)) {
    // (a lock no status explains, from a run that has not written its status yet or was killed
    // before it could: a live run's for all anyone can tell, taken over once LOCK_STALE_MS old)
    log.info(`Another instance is already running. (${last?.result === 'running' ? `pid ${last.pid}; ` : ''}-c/-r do not clear a live run's lock${last?.result === 'running' ? '' : `; a lock whose run is not known to have died is taken over once ${LOCK_STALE_MS / 1000} s old`})`);
    return { exitCode: 0, apps: {} };
  }
  const take = () => acquireLock(o.stateDir, () => {
    log.error('lost the lock (this run was frozen too long and another instance took over); stopping');
    stop.abort(new InterruptedError('lost the lock'));
  }).catch((e: NodeJS.ErrnoException) => {
    throw new StateError(`state directory ${o.stateDir}: cannot create ${join(o.stateDir, 'export_log.lock')} (${e.code ?? e.message}); it must exist and be writable`);
  });
  let lock = o.dryRun ? { release: async () => undefined, compromised: () => false } : await take();
  if (!lock) {
    // A lock refreshed by a run that has since died (SIGKILL, OOM) looks fresh for 30 s, and for
    // as long as the clock was set back. Its status names its pid, gone; but a run that has just
    // taken the lock over has not written its own status yet, so the dead run's still speaks for
    // it: the lock must also stay untouched for longer than a live holder lets it (it refreshes
    // it every LOCK_UPDATE_MS) before it is taken.
    const dead = await deadHolder(o.stateDir);
    const mtime = await lockMtime(o.stateDir);
    if (dead && mtime !== undefined) {
      await new Promise((r) => setTimeout(r, LOCK_UPDATE_MS + 1000));
      const still = await deadHolder(o.stateDir);
      if (still?.run_id === dead.run_id && (await lockMtime(o.stateDir)) === mtime) {
        log.warn(`the lock's holder (pid ${dead.pid}, started ${dead.started_at}) is gone; taking the lock over`);
        await removeDeadLock(o.stateDir);
      }
      lock = await take();
    }
  }
  if (!lock) {
    log.info('Another instance is already running.');
    return { exitCode: 0, apps: {} };
  }
  if (clearing) {
    await clearStatus(o.stateDir);
    if (o.reset) await rm(join(o.stateDir, STATE_FILE), { force: true });
  }
  let output: Output | undefined;
  const started = Date.now();
  const status: JobStatus = {
    version: VERSION, pid: process.pid, host: hostname(), run_id: log.runId, argv: o.argv,
    started_at: new Date(started).toISOString(), result: 'running', apps: {},
  };
  let statusChain = Promise.resolve();
  let lastStatusAt = 0;
  // the watchdog's exit skips the finally below: the status must still say why the run ended
  lastWords = async (why, result) => {
    status.result = result;
    status.error = why;
    status.finished_at = new Date().toISOString();
    await saveStatus();
  };
  let markers: MarkerStore | undefined;
  const saveStatus = () => {
    // a run that lost its lock leaves the status to the run that took it
    if (o.dryRun || lock.compromised() || markers?.lost) return statusChain;
    const snapshot = JSON.parse(JSON.stringify(status)) as JobStatus;
    statusChain = statusChain.then(() => writeStatus(o.stateDir, snapshot)).catch((e: NodeJS.ErrnoException) => log.warn(`cannot write last_job.status (${e.code ?? e.message})`));
    return statusChain;
  };
  try {
    const previous = await readStatus(o.stateDir);
    if (previous?.result === 'running' && previous.pid !== process.pid) {
      log.warn(`the previous run (pid ${previous.pid}, started ${previous.started_at}) did not finish; resuming from the last checkpoint`);
    }
    const state = await loadState(o.stateDir);
    const store = new MarkerStore(o.stateDir, state.markers, { text: state.text }, state.filters);
    markers = store;
    if (!o.dryRun) {
      // proves the state directory is writable before anything is fetched
      await writeStatus(o.stateDir, status).catch(async (e: NodeJS.ErrnoException) => {
        // the previous run's "ok" must not speak for this one (`status` then reports no run)
        await clearStatus(o.stateDir).catch(() => undefined);
        throw new StateError(`state directory ${o.stateDir} is not writable (${e.code ?? e.message})`);
      });
      // once the status says this run holds the lock (a kill before that leaves a lock no status explains)
      await removeStaleTemps(o.stateDir, [STATE_FILE, STATUS_FILE]);
    }
    output = await openOutput(o, (msg) => log.warn(msg));
    const datagrams = o.output.kind === 'SYSLOG' || (o.output.kind === 'REMOTE' && o.output.socketType === 'UDP');
    const bucket = o.rate ? new TokenBucket(o.rate, burstFor(o.rate, datagrams)) : undefined;
    const out = serialised(bucket ? paced(output, bucket, stop.signal) : output);
    const dispatcher = makeDispatcher(o.http);
    const limit = pLimit(2);
    const bar = progressLine(process.stderr.isTTY === true && !o.debug && !o.dryRun);
    const failures: unknown[] = [];
    // the end of a run stopped at --max_runtime: not an error (the next run goes on), in the
    // summary, the status or the heartbeat (a SIEM rule on it would fire on every backlog)
    const deadlineStop = (e: unknown) => stop.signal.reason instanceof Deadline &&
      (e instanceof InterruptedError || (e instanceof OutputError && e.code === 'STOPPED'));
    const now = Date.now();
    const checkClock = clockCheck(log);

    await Promise.all(o.apps.map((app) => limit(async () => {
      const progress: AppProgress = { delivered: 0, duplicates: 0, pages: 0, retries: 0, truncated: 0 };
      status.apps[app] = progress;
      const filters = filtersFor(app, o);
      if (!filters) {
        log.info(`${app}: none of the --severity levels applies to ${app}; skipped`);
        return;
      }
      const key = filtersKey(filters);
      const stored = store.get(app);
      const selection = checkSelection(app, stored, store.filters[app], key, o);
      if (selection instanceof StateError) {
        progress.error = describe(selection);
        failures.push(selection);
        return;
      }
      if (selection) log.warn(selection);
      if (!o.dryRun) store.filters[app] = key;
      const sp = startPoint(o.reset && o.dryRun ? undefined : stored, o, now);
      const reportGap = (gap: NonNullable<typeof sp.gap>, whose: string) => {
        progress.gap = gap;
        log.error(`${app}: ${whose} ${gap.from} is older than the API's ${RETENTION_DAYS}-day retention; logs from ${gap.from} to ${gap.to} (${humanDuration(gap.seconds)}) can no longer be fetched; continuing from ${gap.to}`);
      };
      if (sp.gap) reportGap(sp.gap, o.startDate ? '--start_date' : 'the marker');
      if (sp.replaceMarker && !o.dryRun) await store.commit(app, sp.marker);
      const client: ClientContext = {
        config, dispatcher, retries: o.retries, signal: stop.signal, log, requestTimeoutMs: o.http.timeoutMs,
        onRetry: () => { progress.retries++; },
      };
      progress.query = firstQuery(config.tenant, { app, start: sp.start, filters, pageSize: o.pageSize });
      const t0 = Date.now();
      try {
        const marker = await deliverApp({
          app, client, format: FORMATS[o.format]!, output: out, stop: stop.signal, log, progress,
          fmt: { app, version: VERSION, maxBytes: o.maxMessageSize, onTruncate: () => { progress.truncated++; } },
          pager: {
            app, start: sp.start, marker: sp.marker, filters, pageSize: o.pageSize,
            maxLogs: o.maxLogs ?? DEFAULT_MAX_LOGS, raiseTo: o.maxLogs === undefined ? RAISED_MAX_LOGS : undefined,
            until: started - o.ingestDelayS * 1000, ingestDelayMs: o.ingestDelayS * 1000,
            retention: {
              oldest: oldestStart,
              // the API refused the start by its own clock (this host's is behind it): a gap as above
              onClamp: async (from, to) => {
                const gap = { from, to, seconds: Math.round((apiTimeMs(to) - apiTimeMs(from)) / 1000) };
                reportGap(gap, `the start (by this host's clock, behind the API's)`);
                if (!o.dryRun) await store.commit(app, { timestamp: to, ids: [] });
              },
            },
          },
          commit: (m) => (o.dryRun ? Promise.resolve() : store.commit(app, m)),
          onServerTime: checkClock,
          onPage: () => {
            // progress for `status` while a run goes on; once a second is enough (each write is 5 file operations)
            if (Date.now() - lastStatusAt >= 1000) {
              lastStatusAt = Date.now();
              void saveStatus();
            }
            bar.update(status.apps);
          },
        });
        progress.marker = marker?.timestamp;
      } catch (caught) {
        // a stop at --max_runtime is no error when the run got somewhere; one that never had a
        // page, run after run, would look healthy while nothing arrives
        const e = deadlineStop(caught) && progress.pages === 0
          ? new ApiError(`${app}: stopped at --max_runtime ${o.maxRuntimeS} s before the API answered a page (a slow API or proxy; retries are in the log)`)
          : caught;
        if (!deadlineStop(e)) progress.error = describe(e);
        failures.push(e);
        // the output is shared: once it fails, the other app must stop too
        if (e instanceof OutputError && !stop.signal.aborted) stop.abort(e);
      } finally {
        bar.clear();
        const m = store.get(app)?.timestamp;
        if (m) progress.lag_seconds = Math.max(0, Math.round((Date.now() - apiTimeMs(m)) / 1000));
        log.info(summaryLine(app, progress, Date.now() - t0));
      }
    })));

    if (o.heartbeat) {
      const errors = failures.filter((f) => !deadlineStop(f)).map(describe);
      const rec = heartbeatRecord(log.runId, status.apps, errors);
      const fmtCtx = { app: 'siem-agent', version: VERSION, maxBytes: o.maxMessageSize };
      await out.write([FORMATS[o.format]!(rec, fmtCtx)], [errors.length ? 3 : 6])
        .then(() => out.confirm?.())
        .catch((e: unknown) => log.warn(`could not send the heartbeat: ${describe(e)}`));
    }
    const reason = stop.signal.reason as unknown;
    const fatal = failures.find((f) => !(f instanceof InterruptedError) && !(f instanceof OutputError && f.code === 'STOPPED' && reason instanceof Deadline));
    status.finished_at = new Date().toISOString();
    if (fatal) {
      status.result = 'failed';
      status.error = describe(fatal);
      if (fatal instanceof OutputError && fatal.code === 'EPIPE') {
        // the reader chose to stop reading (`| head`): a clean end, with the marker at the last written line
        status.result = 'ok';
        log.warn(`${describe(fatal)}; stopped, the next run continues after the last line written`);
        return { exitCode: 0, apps: status.apps };
      }
      throw fatal;
    }
    if (reason instanceof Deadline) {
      status.result = 'ok';
      log.warn(`stopped at --max_runtime ${o.maxRuntimeS} s with everything delivered checkpointed; the next run continues`);
    } else if (stop.signal.aborted) {
      status.result = 'interrupted';
      status.error = describe(reason);
      throw reason instanceof AgentError ? reason : new InterruptedError('forcefully shut down');
    } else {
      status.result = 'ok';
    }
    return { exitCode: 0, apps: status.apps };
  } catch (e) {
    if (status.result === 'running') {
      status.result = e instanceof InterruptedError ? 'interrupted' : 'failed';
      status.error = describe(e);
    }
    throw e;
  } finally {
    status.finished_at ??= new Date().toISOString();
    await saveStatus();
    await output?.close().catch(() => undefined);
    await lock.release();
  }
}

/** Set while a run is on: records a forced exit (the watchdog's) in last_job.status. */
export let lastWords: ((why: string, result: 'failed' | 'interrupted') => Promise<void>) | undefined;

/** The reason a run stops at --max_runtime: not an error, the next cron run continues. */
export class Deadline extends Error {}

/** last_job.status of a run that died here (diedHere): its lock is a dead run's. */
async function deadHolder(stateDir: string): Promise<JobStatus | undefined> {
  const last = await readStatus(stateDir);
  return diedHere(last) ? last : undefined;
}

/** Two apps share one output: their writes go through one at a time. */
function serialised(inner: Output): Output {
  const turn = turns();
  return {
    name: inner.name,
    open: () => inner.open(),
    close: () => inner.close(),
    confirm: inner.confirm?.bind(inner),
    write: (lines, severities) => turn(() => inner.write(lines, severities)),
  };
}
