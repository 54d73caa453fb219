// npm run bench: measures the agent as a whole process against the project's emulator.
// Not a test: it prints a table and writes bench/results.json. See README "Performance".
//   node scripts/bench.mjs [--logs 20000] [--latencies 0,200] [--backfill 200000] [--rounds 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const LOGS = Number(arg('logs', '20000'));
const LATENCIES = arg('latencies', '0,200').split(',').map(Number);
const BACKFILL = Number(arg('backfill', '200000'));
// This host's speed drifts by 20-50 % from minute to minute (bare `node -e 0`: 0.07-0.15 s), so
// each 20,000-log row is measured in several rounds, the pull limit and the agent alternating,
// and reported as medians (peak RSS: the largest); the per-round ratios go to results.json.
const ROUNDS = Number(arg('rounds', '3'));

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
/** One row from its rounds' samples: median wall and CPU, the largest peak RSS. */
function summarise(samples) {
  return {
    logs: samples[0].logs, wall: median(samples.map((x) => x.wall)), cpu: median(samples.map((x) => x.cpu)), rssMB: Math.max(...samples.map((x) => x.rssMB)),
    rounds: samples.map(({ wall, cpu, rssMB }) => ({ wall: Number(wall.toFixed(3)), cpu: Number(cpu.toFixed(3)), rssMB: Number(rssMB.toFixed(1)) })),
  };
}

/** Starts the emulator as its own process (so its CPU is not counted as the agent's). */
async function emulator(perApp, latency) {
  const child = spawn(process.execPath, [join(root, 'dist/emulator/cli.js'), '--investigate', String(perApp), '--detect', String(perApp), '--latency', String(latency), '--no-hostile'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.once('exit', (c) => reject(new Error(`emulator exited ${c}`)));
  });
  // a bench that dies half-way must not leave its emulator running
  const orphan = () => child.kill('SIGTERM');
  process.once('exit', orphan);
  return { ...first, stop: () => new Promise((r) => { process.off('exit', orphan); child.once('exit', r); child.kill('SIGTERM'); }) };
}

/**
 * The pull limit: a minimal client that only follows both apps' pages concurrently and counts
 * logs. It runs as its own process, like the agent, so both pay a Node start-up.
 */
async function pullLimit(url, cfg, mode = '--pull') {
  const t0 = performance.now();
  const out = await new Promise((resolve, reject) => {
    // under GNU time too: its CPU is the floor for any client (HTTP, UTF-8 decoding, JSON parsing)
    // with the V8 settings bin/siem-agent runs under (its shebang's, plus the flag it sets at
    // start), so the two differ only in what the agent does
    const shebang = readFileSync(join(root, 'bin/siem-agent'), 'utf8').split('\n')[0];
    const { v8Flags } = createRequire(import.meta.url)('../bin/v8-flags.js');
    const v8 = [...shebang.split(/\s+/).filter((w) => w.startsWith('--')), ...v8Flags(process.versions.v8)];
    const c = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, ...v8, fileURLToPath(import.meta.url), mode, url, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    c.stdout.on('data', (d) => { buf += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`pull limit exited ${code}: ${err.slice(-500)}`));
      resolve({ ...JSON.parse(buf), cpu: Number(m[2]) + Number(m[3]), rssMB: Number(m[4]) / 1024 });
    });
  });
  return { logs: out.logs, wall: (performance.now() - t0) / 1000, cpu: out.cpu, rssMB: out.rssMB };
}

/**
 * Follows both apps' pages concurrently from 179 days back and counts their logs; `getPage(url)`
 * fetches and parses one page. Its wall time, from the first request to the last page.
 */
async function followPages(url, cfg, getPage) {
  const since = encodeURIComponent(new Date(Date.now() - 179 * 86400e3).toISOString());
  const t0 = performance.now();
  const counts = await Promise.all(['Investigate', 'Detect'].map(async (app) => {
    let next = `${cfg.tenant}/api/admin/v1/logs/get/?app=${app}&subtype=${app === 'Investigate' ? 'all' : 'incidents'}&created_timestamp=${since}&limit=1000`;
    let n = 0;
    while (next) {
      const page = await getPage(url + next.replace(/^\//, ''));
      n += page.logs.length;
      next = page.meta.next;
    }
    return n;
  }));
  return { logs: counts[0] + counts[1], wall: (performance.now() - t0) / 1000 };
}

const basicAuth = (cfg) => `Basic ${Buffer.from(`${cfg.key_id}:${cfg.key_secret}`).toString('base64')}`;

async function pullOnly(url, cfg) {
  // the agent's own HTTP stack (undici's dispatcher and request, without its fetch code) and page
  // parser, from its bundle: the pull limit must not pay more than the agent for reading a page
  const { request, Agent, parseBody } = await createRequire(import.meta.url)('../dist/siem-agent.cjs').pullParts();
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  const headers = { authorization: basicAuth(cfg), 'x-elastica-dbname-resolved': 'True' };
  const r = await followPages(url, cfg, async (u) => {
    const res = await request(u, { method: 'GET', dispatcher, headers });
    return parseBody(Buffer.from(await res.body.arrayBuffer()));
  });
  await dispatcher.close();
  return r;
}

/**
 * The same with nothing of the agent's: Node's own http module (its parser is native) and one
 * JSON.parse per page. What any Node client pays here to read these pages.
 */
async function pullHttp(url, cfg) {
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true });
  const headers = { authorization: basicAuth(cfg), 'x-elastica-dbname-resolved': 'True' };
  const r = await followPages(url, cfg, (u) => new Promise((resolve, reject) => {
    http.get(u, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c)).on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))).on('error', reject);
    }).on('error', reject);
  }));
  agent.destroy();
  return r;
}

/** Runs bin/siem-agent under GNU time: wall, user+sys CPU, peak RSS. */
function agent(args) {
  return new Promise((resolve, reject) => {
    // the executable itself, as cron runs it (its shebang carries the Node flags)
    const c = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', join(root, 'bin/siem-agent'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`agent exited ${code}: ${err.slice(-500)}`));
      resolve({ wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMB: Number(m[4]) / 1024 });
    });
  });
}

/**
 * The agent over `maxLogs` logs from an empty state in a scratch directory (its output given by
 * `outArgs(dir)`): its figures and the logs it delivered; with `again`, also the next run's, which
 * finds nothing new (the empty run).
 */
async function agentFresh(cfgDir, maxLogs, outArgs, again = false) {
  const d = mkdtempSync(join(tmpdir(), 'sa-bench-run-'));
  const log = join(d, 'agent.log');
  const args = ['--config', join(cfgDir, 'config.json'), '--state_dir', d, '--severity', 'all', '--max_logs', String(maxLogs), '--log_file', log, ...outArgs(d)];
  const run = { ...(await agent(args)), logs: delivered(log) };
  const empty = again ? { ...(await agent(args)), logs: 0 } : undefined;
  rmSync(d, { recursive: true, force: true });
  return { run, empty };
}

function lineSink() {
  return new Promise((resolve) => {
    let lines = 0;
    // counts with indexOf (native): a byte-by-byte JS loop here took CPU from the agent under test
    const srv = createServer((s) => s.on('data', (d) => { for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++; }));
    srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, lines: () => lines, close: () => srv.close() }));
  });
}

function delivered(logFile) {
  const t = readFileSync(logFile, 'utf8');
  return [...t.matchAll(/: delivered (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

if (process.argv[2] === '--pull' || process.argv[2] === '--pull-http') {
  const r = await (process.argv[2] === '--pull' ? pullOnly : pullHttp)(process.argv[3], JSON.parse(process.argv[4]));
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
}

const rows = [];
const results = { machine: { cpus: cpus().length, model: cpus()[0]?.model, memGB: Math.round(totalmem() / 2 ** 30), node: process.version }, date: new Date().toISOString(), runs: [] };
for (const latency of LATENCIES) {
  const emu = await emulator(LOGS / 2, latency);
  const cfgDir = mkdtempSync(join(tmpdir(), 'sa-bench-'));
  const cfg = { api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: 'test-key-secret' };
  writeFileSync(join(cfgDir, 'config.json'), JSON.stringify(cfg), { mode: 0o600 });
  // a first, unmeasured pass warms the emulator up (its JIT): measured first on a cold emulator,
  // the pull limit took 0.58-0.69 s instead of ~0.50 s, flattering every ratio below
  await pullLimit(emu.url, cfg);
  const sink = await lineSink();
  const outputs = {
    FILE: (d) => ['-o', 'FILE', '-f', join(d, 'out.cef')],
    'STREAM /dev/null': () => ['-o', 'STREAM', '-s', 'STDOUT'],
    'REMOTE TCP': () => ['-o', 'REMOTE', '--socket_type', 'TCP', '-t', `127.0.0.1:${sink.port}`],
  };
  const samples = { pull: [], bare: [] };
  for (const name of Object.keys(outputs)) samples[name] = { run: [], empty: [] };
  for (let round = 0; round < ROUNDS; round++) {
    samples.pull.push(await pullLimit(emu.url, cfg));
    // not the reference for the ratios (the agent reads pages with undici), only the floor's floor
    samples.bare.push(await pullLimit(emu.url, cfg, '--pull-http'));
    for (const [name, outArgs] of Object.entries(outputs)) {
      const { run, empty } = await agentFresh(cfgDir, LOGS, outArgs, true);
      samples[name].run.push(run);
      samples[name].empty.push(empty);
    }
  }
  const pull = summarise(samples.pull);
  rows.push({ latency, output: 'pull limit', ...pull, cpuPer1k: (pull.cpu * 1000) / (pull.logs / 1000) });
  const bare = summarise(samples.bare);
  rows.push({ latency, output: 'pull, node:http', ...bare, cpuPer1k: (bare.cpu * 1000) / (bare.logs / 1000) });
  for (const name of Object.keys(outputs)) {
    const r = summarise(samples[name].run);
    const empty = summarise(samples[name].empty);
    const n = r.logs;
    // each round's agent against the pull limit measured just before it: paired, so that the
    // host's drift between rounds cancels out; the row's ratio is their median
    const roundRatios = samples[name].run.map((x, i) => x.wall / samples.pull[i].wall);
    rows.push({
      latency, output: name, ...r, ratio: median(roundRatios), cpuPer1k: (r.cpu * 1000) / (n / 1000),
      // the same, less the fixed start-up and shut-down that the empty run measures
      cpuPer1kNet: ((r.cpu - empty.cpu) * 1000) / (n / 1000), emptyWall: empty.wall, emptyCpu: empty.cpu,
      roundRatios: roundRatios.map((x) => Number(x.toFixed(3))),
      roundLogs: samples[name].run.map((x) => x.logs),
    });
  }
  sink.close();
  await emu.stop();
}

// Flat memory on a long backfill, and CPU while rate limited
{
  const emu = await emulator(BACKFILL / 2, 0);
  const cfgDir = mkdtempSync(join(tmpdir(), 'sa-bench-'));
  writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: 'test-key-secret' }), { mode: 0o600 });
  const toFile = (d) => ['-o', 'FILE', '-f', join(d, 'out.cef')];
  rows.push({ latency: 0, output: 'FILE backfill', ...(await agentFresh(cfgDir, BACKFILL, toFile)).run });
  // 5,000 logs (--max_logs 2500 per app) paced, then the same unpaced: the difference is what the
  // pacing itself costs; in rounds like the 20,000-log rows
  const paced = [];
  const unpaced = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [into, extra] of [[paced, ['--rate', '500']], [unpaced, []]]) {
      into.push((await agentFresh(cfgDir, 2500, (d) => [...toFile(d), ...extra])).run);
    }
  }
  rows.push({ latency: 0, output: 'FILE --rate 500', ...summarise(paced) });
  rows.push({ latency: 0, output: 'FILE same logs unpaced', ...summarise(unpaced) });
  await emu.stop();
}

const fmt = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const table = [
  '| latency ms | output | logs | wall s | CPU s | CPU ms/1k | CPU ms/1k net of start-up | peak RSS MB | logs/s | wall / pull limit | empty run s (CPU s) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.latency} | ${r.output} | ${r.logs} | ${fmt(r.wall)} | ${fmt(r.cpu)} | ${fmt(r.cpuPer1k, 1)} | ${fmt(r.cpuPer1kNet, 1)} | ${fmt(r.rssMB, 1)} | ${fmt(r.logs / r.wall, 0)} | ${fmt(r.ratio)} | ${fmt(r.emptyWall)}${Number.isFinite(r.emptyCpu) ? ` (${fmt(r.emptyCpu)})` : ''} |`),
];
console.log(table.join('\n'));
console.log(`\n20,000-log and 5,000-log rows: medians of ${ROUNDS} rounds (peak RSS: the largest); wall / pull limit is the median of each round's ratio:`);
for (const r of rows) if (r.roundRatios) console.log(`  latency ${r.latency} ${r.output}: ${r.roundRatios.map((x) => x.toFixed(2)).join(', ')}`);
console.log(`\nmachine: ${results.machine.cpus} cores (${results.machine.model}), ${results.machine.memGB} GiB, Node ${results.machine.node}`);
results.runs = rows;
mkdirSync(join(root, 'bench'), { recursive: true });
writeFileSync(join(root, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
