import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/siem-agent', import.meta.url));

export interface AgentResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tmp(prefix = 'sa-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts bin/siem-agent as a child process, exactly as cron would. */
export interface AgentOpts {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  replaceEnv?: boolean;
  /** Start it through this command instead (e.g. a node binary and its flags); the shebang is then bypassed. */
  via?: readonly string[];
}

export function startAgent(args: string[], opts: AgentOpts = {}): { child: ChildProcess; done: Promise<AgentResult> } {
  // run as cron would: the executable itself, so its shebang (and Node flags there) apply
  const [cmd, ...pre] = opts.via ?? [BIN];
  const child = spawn(cmd!, opts.via ? [...pre, BIN, ...args] : args, {
    cwd: opts.cwd,
    env: opts.replaceEnv ? opts.env : { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<AgentResult>((res) => {
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/**
 * Runs any command (runuser, sh, the agent through setpriv …) as a child, asynchronously: an
 * emulator in the test's own process keeps answering meanwhile. Its exit, output and pid.
 */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<AgentResult & { pid: number }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    c.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: c.pid ?? 0 }));
  });
}

export function runAgent(args: string[], opts: AgentOpts = {}): Promise<AgentResult> {
  return startAgent(args, opts).done;
}

/** Every JSON line of a FILE output (and its rotated backups), in delivery order. */
export function jsonLines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * jsonLines for a file written by runs that were SIGKILLed: a kill during a write leaves the start
 * of a line, which the next run ends with a line break before appending. Such a line is accepted
 * (and left out) only if a later line starts with it: the same log written again in full. A file
 * still ending mid-line (killed, not yet run again) has that last piece left out.
 */
export function jsonLinesAfterKills(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop(); // '' after the last line break, or a cut line not yet ended by a run
  const out: Record<string, unknown>[] = [];
  lines.forEach((l, i) => {
    if (l === '') return;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      if (!lines.slice(i + 1).some((later) => later !== l && later.startsWith(l))) {
        throw new Error(`${path} line ${i + 1} is neither JSON nor the start of a line written later: ${l.slice(0, 80)}`);
      }
    }
  });
  return out;
}

export function idsOf(lines: Record<string, unknown>[]): string[] {
  return lines.map((l) => l._id as string);
}

/** Counts per id: a map of id -> times delivered. */
export function countIds(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

export function stateOf(dir: string): { apps: Record<string, { timestamp: string; ids: string[] }> } | undefined {
  const p = join(dir, 'export_log.state');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined;
}

export function filesIn(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** The summary lines say "Investigate: delivered N, ...". */
export function delivered(stderrOrLog: string, app: 'Investigate' | 'Detect'): number | undefined {
  const m = new RegExp(`${app}: delivered (\\d+)`).exec(stderrOrLog);
  return m ? Number(m[1]) : undefined;
}

export const readLog = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

/**
 * Runs the agent until a run's summary lines show nothing new for every app (cron catching up);
 * every run must exit 0. Returns how many runs it took.
 */
export async function untilCaughtUp(args: string[], log: string, maxRuns = 40): Promise<number> {
  let text = '';
  const start = readLog(log).length;
  for (let i = 1; i <= maxRuns; i++) {
    const before = readLog(log).length;
    const res = await runAgent(args);
    if (res.code !== 0) throw new Error(`run ${i} exited ${res.code}: ${res.stderr}`);
    text = readLog(log).slice(before);
    if (/: delivered /.test(text) && !/: delivered [1-9]/.test(text)) return i;
  }
  throw new Error(`never caught up in ${maxRuns} runs; the log of those runs begins:\n${readLog(log).slice(start, start + 3000)}\n...and ends:\n${text.slice(-1000)}`);
}
