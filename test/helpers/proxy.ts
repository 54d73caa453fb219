import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export interface Proxy { port: number; url: string; logFile: string; log(): string; stop(): Promise<void> }

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private tinyproxy (CONNECT + basic auth) on a loopback port, stopped by PID. */
export async function startTinyproxy(dir: string, auth?: { user: string; password: string }): Promise<Proxy> {
  const port = await freeTcpPort();
  const logFile = join(dir, 'tinyproxy.log');
  writeFileSync(logFile, '');
  chmodSync(logFile, 0o666);
  chmodSync(dir, 0o777);
  const conf = join(dir, 'tinyproxy.conf');
  writeFileSync(conf, [
    `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', 'MaxClients 50', 'LogLevel Info', `LogFile "${logFile}"`,
    'User nobody', 'Group nogroup', 'Allow 127.0.0.1',
    ...(auth ? [`BasicAuth ${auth.user} ${auth.password}`] : []), '',
  ].join('\n'));
  const child: ChildProcess = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += String(d); });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tinyproxy did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    logFile,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }),
  };
}
