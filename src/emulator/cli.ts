// node dist/emulator/cli.js [--port N] [--investigate N] [--detect N] [--latency MS] [--seed N]
//   [--tls-key FILE --tls-cert FILE] [--write-config DIR] [--no-hostile]
// Prints {"url":...,"port":...} as its only stdout line (a parent process reads it), then runs
// until SIGTERM/SIGINT. Faults and latency are switched over HTTP: POST /_emulator/faults, /_emulator/latency.
import { readFileSync } from 'node:fs';
import { startEmulator } from './server.js';

const VALUED = ['port', 'investigate', 'detect', 'latency', 'seed', 'tls-key', 'tls-cert', 'write-config'];

function fail(msg: string): never {
  process.stderr.write(`emulator: ${msg}\n`);
  process.exit(2);
}

function parse(argv: string[]): { values: Map<string, string>; hostile: boolean } {
  const values = new Map<string, string>();
  let hostile = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-hostile') { hostile = false; continue; }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? a.slice(2, eq < 0 ? undefined : eq) : '';
    if (!VALUED.includes(name)) fail(`unknown argument ${a}`);
    const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (v === undefined) fail(`--${name} needs a value`);
    values.set(name, v);
  }
  return { values, hostile };
}

const { values, hostile } = parse(process.argv.slice(2));
const num = (name: string, def: number): number => {
  const v = values.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number >= 0, got ${v}`);
  return n;
};
const key = values.get('tls-key');
const cert = values.get('tls-cert');
if ((key === undefined) !== (cert === undefined)) fail('--tls-key and --tls-cert go together');

const emu = await startEmulator({
  port: num('port', 0),
  latencyMs: num('latency', 0),
  tls: key && cert ? { key: readFileSync(key), cert: readFileSync(cert) } : undefined,
  data: {
    seed: num('seed', 1),
    counts: { Investigate: num('investigate', 3000), Detect: num('detect', 1000) },
    hostile,
  },
});
const dir = values.get('write-config');
if (dir) emu.configFile(dir);
process.stdout.write(`${JSON.stringify({ url: emu.url, port: emu.port })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void emu.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
