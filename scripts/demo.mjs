// The README's first command: start the built-in API emulator, point the agent at it and run
// its main job once, printing real CEF to stdout. No credentials, no network.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startEmulator } = await import(join(root, 'dist/emulator/server.js'));

const emu = await startEmulator({ data: { counts: { Investigate: 300, Detect: 100 } } });
const dir = mkdtempSync(join(tmpdir(), 'siem-agent-demo-'));
const config = emu.configFile(dir);
const log = join(dir, 'siem_agent.log');
const args = ['--config', config, '-o', 'STREAM', '-s', 'STDOUT', '--max_logs', '5', '--log_file', log];

const say = (s) => process.stderr.write(`\n\x1b[1m# ${s}\x1b[0m\n`);
const keep = process.argv.includes('--keep');
say(`emulator at ${emu.url}; state and config in ${dir}${keep ? '' : ' (removed at the end; `npm run demo -- --keep` keeps it)'}`);
say(`siem-agent ${args.join(' ')}`);
const runAsync = (extra = []) => new Promise((resolve) => {
  const c = spawn(process.execPath, [join(root, 'bin/siem-agent'), ...args, ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  c.on('close', resolve);
});
let code = await runAsync();
say(`exit status ${code}; the agent's log (${log}):`);
process.stderr.write(readFileSync(log, 'utf8'));
say('a second run continues after the marker (export_log.state), exactly once:');
code = await runAsync();
process.stderr.write(readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('delivered')).slice(-2).join('\n') + '\n');
await emu.close();
if (!keep) rmSync(dir, { recursive: true, force: true });
process.exit(code ?? 1);
