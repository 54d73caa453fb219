// node dist/emulator/cli.js [--port N] [--investigate N] [--detect N] [--latency MS] [--seed N]
//   [--tls-key FILE --tls-cert FILE] [--write-config DIR] [--no-hostile]
// Prints {"url":...,"port":...} as its first line, runs until SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { startEmulator } from './server.js';

const argv = process.argv.slice(2);
const val = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, def: number) => (val(name) === undefined ? def : Number(val(name)));

const key = val('tls-key');
const cert = val('tls-cert');
const emu = await startEmulator({
  port: num('port', 0),
  latencyMs: num('latency', 0),
  tls: key && cert ? { key: readFileSync(key), cert: readFileSync(cert) } : undefined,
  data: {
    seed: num('seed', 1),
    counts: { Investigate: num('investigate', 3000), Detect: num('detect', 1000) },
    hostile: !argv.includes('--no-hostile'),
  },
});
const dir = val('write-config');
if (dir) emu.configFile(dir);
process.stdout.write(`${JSON.stringify({ url: emu.url, port: emu.port })}\n`);
const stop = () => void emu.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
