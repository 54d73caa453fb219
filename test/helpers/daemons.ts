// Private rsyslog and syslog-ng instances for the tests: own config, pid file, work directory,
// loopback port or socket path; every received message is written raw, one per line, to outFile.
// Started and stopped by PID; never /dev/log, never a system daemon. .ci/setup-daemons.sh installs them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Input =
  | { kind: 'unix-dgram'; path: string; rateLimit?: { interval: number; burst: number } }
  | { kind: 'unix-stream'; path: string }
  | { kind: 'udp'; port: number }
  | { kind: 'tcp'; port: number; framing?: 'lf' | 'octet' }
  | { kind: 'tls'; port: number; ca: string; cert: string; key: string; requireClientCert?: boolean; framing?: 'lf' | 'octet' };

export interface Daemon {
  pid: number;
  outFile: string;
  dir: string;
  stop(): Promise<void>;
  /** Kill abruptly (SIGKILL) and start again on the same port/path, appending to outFile. */
  restart(): Promise<void>;
  readLines(): string[];
  waitForLines(n: number, timeoutMs: number): Promise<string[]>;
}

export const RSYSLOG_ROOT = '/opt/siem-agent-test/rsyslog';
const RSYSLOGD = join(RSYSLOG_ROOT, 'usr/sbin/rsyslogd');
const RSYSLOG_MODULES = join(RSYSLOG_ROOT, 'usr/lib/x86_64-linux-gnu/rsyslog');
const PROBE = 'siem-agent-harness-probe';

export function daemonsAvailable(): { rsyslog: boolean; syslogNg: boolean } {
  return { rsyslog: existsSync(RSYSLOGD), syslogNg: existsSync('/usr/sbin/syslog-ng') };
}

export function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp') {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    } else {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
    }
  });
}

function rsyslogConf(input: Input, dir: string, out: string): string {
  const g = [`workDirectory="${dir}/work"`, 'maxMessageSize="256k"', 'parser.escapeControlCharactersOnReceive="off"'];
  const lines: string[] = [];
  switch (input.kind) {
    case 'unix-dgram': {
      const rl = input.rateLimit ? ` RateLimit.Interval="${input.rateLimit.interval}" RateLimit.Burst="${input.rateLimit.burst}"` : '';
      lines.push('module(load="imuxsock" SysSock.Use="off")', `input(type="imuxsock" Socket="${input.path}" CreatePath="on"${rl})`);
      break;
    }
    case 'udp':
      lines.push('module(load="imudp")', `input(type="imudp" address="127.0.0.1" port="${input.port}")`);
      break;
    case 'tcp':
      lines.push('module(load="imtcp")', `input(type="imtcp" address="127.0.0.1" port="${input.port}")`);
      break;
    case 'tls':
      g.push(`defaultNetstreamDriverCAFile="${input.ca}"`, `defaultNetstreamDriverCertFile="${input.cert}"`, `defaultNetstreamDriverKeyFile="${input.key}"`);
      lines.push(`module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="${input.requireClientCert ? 'x509/certvalid' : 'anon'}")`,
        `input(type="imtcp" address="127.0.0.1" port="${input.port}")`);
      break;
    case 'unix-stream':
      throw new Error('rsyslog has no unix stream input; use syslog-ng');
  }
  return [`global(${g.join(' ')})`, ...lines,
    'template(name="raw" type="string" string="%rawmsg%\\n")',
    `action(type="omfile" file="${out}" template="raw" asyncWriting="off" flushOnTXEnd="on")`, ''].join('\n');
}

function syslogNgConf(input: Input, out: string, stock: boolean): string {
  const np = 'flags(no-parse)';
  let src: string;
  switch (input.kind) {
    case 'unix-dgram': src = `unix-dgram("${input.path}" ${np})`; break;
    case 'unix-stream': src = `unix-stream("${input.path}" ${np})`; break;
    case 'udp': src = `network(ip("127.0.0.1") port(${input.port}) transport("udp") ${np}${stock ? '' : ' so-rcvbuf(8388608)'})`; break;
    case 'tcp': src = input.framing === 'octet'
      ? `syslog(ip("127.0.0.1") port(${input.port}) transport("tcp") ${np})`
      : `network(ip("127.0.0.1") port(${input.port}) transport("tcp") ${np})`; break;
    case 'tls': {
      const tls = `tls(key-file("${input.key}") cert-file("${input.cert}") ca-file("${input.ca}") peer-verify(${input.requireClientCert ? 'required-trusted' : 'optional-untrusted'}))`;
      src = input.framing === 'lf'
        ? `network(ip("127.0.0.1") port(${input.port}) transport("tls") ${tls} ${np})`
        : `syslog(ip("127.0.0.1") port(${input.port}) transport("tls") ${tls} ${np})`;
      break;
    }
  }
  return ['@version: 3.38', 'options { log-msg-size(262144); use-dns(no); use-fqdn(no); stats-freq(0); flush-lines(1); };',
    `source s_test { ${src}; };`, `destination d_out { file("${out}" template("$MSG\\n") ); };`,
    'log { source(s_test); destination(d_out); };', ''].join('\n');
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string, child: ChildProcess, errText: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${errText().slice(-800)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${ms} ms: ${errText().slice(-800)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const canConnect = (port: number) => new Promise<boolean>((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

async function launch(kind: 'rsyslog' | 'syslog-ng', input: Input, stock: boolean, dirIn?: string): Promise<Daemon> {
  const dir = dirIn ?? mkdtempSync(join(tmpdir(), `sa-${kind}-`));
  const out = join(dir, 'received.log');
  const conf = join(dir, `${kind}.conf`);
  writeFileSync(conf, kind === 'rsyslog' ? rsyslogConf(input, dir, out) : syslogNgConf(input, out, stock));
  if (kind === 'rsyslog') execMkdir(join(dir, 'work'));
  let child!: ChildProcess;
  let err = '';
  let probes = 0;
  const start = async () => {
    const args = kind === 'rsyslog'
      ? ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid'), '-M', RSYSLOG_MODULES]
      : ['-F', '-f', conf, '-p', join(dir, 'syslog-ng.pid'), '-R', join(dir, 'syslog-ng.persist'), '-c', join(dir, 'syslog-ng.ctl'), '--no-caps'];
    child = spawn(kind === 'rsyslog' ? RSYSLOGD : '/usr/sbin/syslog-ng', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { err += String(d); });
    child.stderr!.on('data', (d) => { err += String(d); });
    const what = `${kind} (${input.kind})`;
    if (input.kind === 'tcp' || input.kind === 'tls') {
      await waitFor(() => canConnect(input.port), 10_000, what, child, () => err);
    } else if (input.kind === 'udp') {
      // readiness: a probe datagram shows up in the output (excluded from readLines)
      const sock = createSocket('udp4');
      try {
        await waitFor(async () => {
          const tag = `${PROBE}-${++probes}`;
          await new Promise<void>((r) => sock.send(`<14>${tag}`, input.port, '127.0.0.1', () => r()));
          await new Promise((r) => setTimeout(r, 100));
          return existsSync(out) && readFileSync(out, 'utf8').includes(PROBE);
        }, 10_000, what, child, () => err);
      } finally {
        sock.close();
      }
    } else {
      await waitFor(() => existsSync(input.path), 10_000, what, child, () => err);
    }
  };
  await start();
  const readLines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '' && !l.includes(PROBE)) : []);
  const stopChild = (sig: NodeJS.Signals) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill(sig);
  });
  return {
    get pid() { return child.pid!; },
    outFile: out,
    dir,
    stop: () => stopChild('SIGTERM'),
    async restart() {
      await stopChild('SIGKILL');
      if (input.kind === 'unix-dgram' || input.kind === 'unix-stream') {
        try { unlinkSync(input.path); } catch { /* gone already */ }
      }
      await start();
    },
    readLines,
    async waitForLines(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (readLines().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300)); // let any extra (duplicate) lines land too
      return readLines();
    },
  };
}

function execMkdir(p: string): void {
  mkdirSync(p, { recursive: true });
}

export function startRsyslog(input: Input, opts: { dir?: string } = {}): Promise<Daemon> {
  return launch('rsyslog', input, false, opts.dir);
}

export function startSyslogNg(input: Input, opts: { dir?: string; stock?: boolean } = {}): Promise<Daemon> {
  return launch('syslog-ng', input, opts.stock ?? false, opts.dir);
}
