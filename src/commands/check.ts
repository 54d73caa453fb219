import { trustedPath } from '../links.js';
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadConfig } from '../config.js';
import { describe } from '../errors.js';
import { buildRunOptions, type RawFlags } from '../cli-options.js';
import { openOutput } from '../output/index.js';
import { fetchPage } from '../source/client.js';
import { makeDispatcher } from '../source/http.js';
import { firstQuery } from '../source/pager.js';
import { filtersFor } from '../plan.js';
import { loadMarkers } from '../state/marker.js';
import { APPS } from '../types.js';
import type { Logger } from '../log.js';

const quiet: Logger = {
  runId: 'check', debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined,
  addSecret: () => undefined, close: async () => undefined,
};

/** `siem-agent check`: one OK/FAIL line per step with a hint; never moves the marker. */
export async function check(f: RawFlags): Promise<number> {
  let failed = 0;
  const line = (ok: boolean, step: string, detail: string) => {
    if (!ok) failed++;
    process.stdout.write(`${ok ? 'OK  ' : 'FAIL'} ${step}: ${detail}\n`);
  };
  let o;
  try {
    o = buildRunOptions(f, []);
    line(true, 'flags', 'valid');
  } catch (e) {
    line(false, 'flags', describe(e));
    return 1;
  }
  let config;
  try {
    const r = loadConfig(o.configPath);
    config = r.config;
    line(true, 'config', `${o.configPath}: tenant ${config.tenant} at ${config.apiServer}${r.warnings.length ? ` (warning: ${r.warnings.join('; ')})` : ''}`);
  } catch (e) {
    line(false, 'config', describe(e));
  }
  try {
    await access(o.stateDir, constants.W_OK);
    line(true, 'state directory', `${o.stateDir} is writable`);
  } catch (e) {
    line(false, 'state directory', `${o.stateDir} is not writable (${(e as NodeJS.ErrnoException).code}); create it or pass --state_dir`);
  }
  // a state file the run would refuse (corrupt, unreadable, newer) fails every run: say it now
  try {
    const markers = await loadMarkers(o.stateDir);
    const held = APPS.filter((app) => markers[app]).map((app) => `${app} at ${markers[app]!.timestamp}`);
    line(true, 'state file', held.length ? `markers: ${held.join(', ')}` : 'none yet: the first run starts from the oldest log the API keeps');
  } catch (e) {
    line(false, 'state file', describe(e));
  }
  if (config) {
    const dispatcher = makeDispatcher(o.http);
    for (const app of o.apps) {
      const filters = filtersFor(app, o) ?? {};
      const start = new Date(Date.now() - 86_400_000).toISOString();
      try {
        const page = await fetchPage({ config, dispatcher, retries: 1, backoffMs: 500, signal: new AbortController().signal, log: quiet, requestTimeoutMs: o.http.timeoutMs },
          firstQuery(config.tenant, { app, start, filters, pageSize: 1 }), `${app} check`);
        line(true, `API ${app}`, `reached ${config.apiServer} (auth, tenant, proxy, TLS): ${page.meta.total_count ?? '?'} logs in the last 24 h match the filters`);
      } catch (e) {
        line(false, `API ${app}`, describe(e));
      }
    }
    await dispatcher.close().catch(() => undefined);
  }
  if (o.output.kind === 'FILE') {
    // probed, not opened: check must leave nothing behind (run as root, a file or directory it
    // created would be root's, and the service user's runs could then not write it)
    const path = o.output.path;
    const why = await fileWritable(path);
    line(why === undefined, 'output', why === undefined ? `FILE ${path} writable` : `output file ${path}: ${why}`);
    return failed === 0 ? 0 : 1;
  }
  try {
    const out = await openOutput({ ...o, dryRun: false });
    await out.close();
    const udp = o.output.kind === 'REMOTE' && o.output.socketType === 'UDP';
    line(true, 'output', `${out.name} ${udp ? 'socket opened (UDP cannot confirm that anything listens)' : 'reachable and writable'}`);
  } catch (e) {
    line(false, 'output', describe(e));
  }
  return failed === 0 ? 0 : 1;
}

/** Why the agent could not write `path` (creating it and its directories as a run would), or undefined. */
async function fileWritable(asked: string): Promise<string | undefined> {
  // a link the run would refuse (links.ts) is a FAIL here too
  const t = trustedPath(asked);
  if (t.why !== undefined) return t.why;
  const path = t.path;
  const st = await stat(path).catch(() => undefined);
  if (st && !st.isFile()) return 'not a regular file';
  // the file itself, or the nearest directory that exists (a run creates the ones below it)
  let target = path;
  if (!st) {
    // the nearest part of the path that exists must be a directory (a file there: ENOTDIR)
    target = dirname(path);
    for (;;) {
      const there = await stat(target).catch(() => undefined);
      if (there) {
        if (!there.isDirectory()) return `cannot create it: ${target} is not a directory (ENOTDIR)`;
        break;
      }
      const up = dirname(target);
      if (up === target) break;
      target = up;
    }
  }
  try {
    await access(target, constants.W_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `cannot write ${target === path ? 'it' : `in ${target}`} (${code === 'EACCES' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code})`;
  }
}
