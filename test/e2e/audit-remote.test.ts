// REMOTE (UDP/TCP/TLS) delivery as the receiving daemon sees it (from an audit). Each test states the
// promise it checks (README "Outputs", "Oversized events", "Every flag") and what a SIEM engineer
// expects at the daemon. Private daemons (own configs, loopback ports), killed by PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer as netCreateServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { LogRecord } from '../../src/types.js';
import { freePort, RSYSLOG_ROOT, startRsyslog, startSyslogNg, type Daemon } from '../helpers/daemons.js';
import { makeCerts } from '../helpers/certs.js';
import { parseRfc3164, parseRfc5424 } from '../helpers/parsers.js';
import { runAgent, startAgent, stateOf, tmp, type AgentOpts } from '../helpers/agent.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const emus: Emulator[] = [];
const daemons: Daemon[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.stop()));
  await Promise.all(emus.map((e) => e.close()));
});
const track = (d: Daemon) => { daemons.push(d); return d; };

async function emulator(data: { Investigate: LogRecord[]; Detect: LogRecord[] } | { counts: { Investigate: number; Detect: number }; hostile?: boolean; seed?: number }): Promise<Emulator> {
  const e = await startEmulator({ data: 'counts' in data ? { seed: data.seed ?? 41, tieGroupSize: 1, hostile: data.hostile ?? false, counts: data.counts } : data });
  emus.push(e);
  return e;
}

const T0 = Date.now() - 3_600_000;
const rec = (i: number, over: Record<string, unknown> = {}): LogRecord => ({
  _id: `aud${String(i).padStart(4, '0')}`, created_timestamp: new Date(T0 + i * 1000).toISOString(), severity: 'error', service: 'Box',
  user: `u${i}@example.com`, name: 'Login', activity_type: 'Login', message: `event ${i}`, ...over,
});

function args(e: Emulator, dir: string, extra: string[]): string[] {
  return ['--config', e.configFile(dir), '--severity', 'all', '--log_file', join(dir, 'agent.log'), ...extra];
}

/** The logs the stored marker says were delivered. */
function covered(e: Emulator, dir: string, app: 'Investigate' | 'Detect'): LogRecord[] {
  const m = stateOf(dir)?.apps[app];
  if (!m) return [];
  const t = Date.parse(m.timestamp);
  return e.logs[app].filter((r) => Date.parse(r.created_timestamp) < t || (Date.parse(r.created_timestamp) === t && m.ids.includes(r._id)));
}

/** A JSON event's _id anywhere in a received line (header or not), or undefined. */
const idIn = (l: string): string | undefined => /"_id":"([^"]+)"/.exec(l)?.[1];

/** A private rsyslog with a config of the test's own (the helper's raises maxMessageSize to 256k). */
async function customRsyslog(body: string, port: number, kind: 'tcp' | 'udp'): Promise<{ out: string; pid: number; stop: () => void }> {
  const dir = tmp('sa-aud-rs-');
  mkdirSync(join(dir, 'work'));
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, `global(workDirectory="${dir}/work")\n${body.replaceAll('@PORT@', String(port)).replaceAll('@OUT@', out)}\n`);
  const child = spawn(join(RSYSLOG_ROOT, 'usr/sbin/rsyslogd'), ['-n', '-f', conf, '-i', join(dir, 'pid'), '-M', join(RSYSLOG_ROOT, 'usr/lib/x86_64-linux-gnu/rsyslog')], { stdio: 'ignore' });
  children.push(child);
  // ready: a probe reaches the output file
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    if (kind === 'tcp') {
      const ok = await new Promise<boolean>((res) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => { s.end('<14>probe-ready\n'); res(true); });
        s.once('error', () => res(false));
      });
      if (ok) break;
    } else {
      const u = createSocket('udp4');
      await new Promise<void>((r) => u.send('<14>probe-ready', port, '127.0.0.1', () => r()));
      u.close();
      if (existsSync(out) && readFileSync(out, 'utf8').includes('probe-ready')) break;
    }
  }
  for (let i = 0; i < 50 && !(existsSync(out) && readFileSync(out, 'utf8').includes('probe-ready')); i++) await sleep(100);
  return { out, pid: child.pid!, stop: () => { if (child.exitCode === null) child.kill('SIGKILL'); } };
}

const receivedLines = (out: string) => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '' && !l.includes('probe-ready')) : []);

/** Run the agent in a UTS namespace of its own with this hostname (root; the host's name is not touched). */
const withHostname = (host: string): AgentOpts => ({ via: ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', host] });

// A cloud-style FQDN of 64 characters, the most Linux allows (GCP's VM names are of this kind).
const LONG_HOST = 'siem-collector-01.security-operations.eu-west-1.example.internal';

describe('--max_message_size 8000 (the default) against rsyslog\'s default maxMessageSize', () => {
  // README "Oversized events": "Defaults: 8000 bytes for SYSLOG and REMOTE (rsyslog's default maximum
  // is 8 KiB including the header; a UDP datagram must fit too)". Measured here: rsyslog 8.2302's
  // default is 8096 bytes for the whole message, header included; over TCP the rest of a longer
  // message becomes a message of its own. An event the agent has already shortened to 8000 bytes
  // must reach a stock rsyslog whole, whatever header it is given.
  it.each([
    ['TCP', 'tcp', 'rfc5424'],
    ['UDP', 'udp', 'rfc5424'],
    ['TCP', 'tcp', 'rfc3164'],
  ] as const)('REMOTE %s (%s) --syslog_header %s, 64-character hostname: a long event shortened by the agent arrives whole at a stock rsyslog, one message per event', async (sockType, kind, header) => {
    const e = await emulator({ Investigate: [1, 2, 3, 4, 5].map((i) => rec(i, { message: `m${i} ${'x'.repeat(20_000)}` })), Detect: [] });
    const dir = tmp('sa-aud-');
    const port = await freePort(kind);
    const input = kind === 'tcp'
      ? 'module(load="imtcp")\ninput(type="imtcp" address="127.0.0.1" port="@PORT@")'
      : 'module(load="imudp")\ninput(type="imudp" address="127.0.0.1" port="@PORT@")';
    const d = await customRsyslog(`${input}\ntemplate(name="raw" type="string" string="%rawmsg%\\n")\naction(type="omfile" file="@OUT@" template="raw")`, port, kind);
    try {
      const res = await runAgent(args(e, dir, ['--elastica_app', 'investigate', '--format', 'json', '-o', 'REMOTE', '-t', `127.0.0.1:${port}`,
        '--socket_type', sockType, '--syslog_header', header, '--facility', 'local7']), withHostname(LONG_HOST));
      expect(res.code, res.stderr).toBe(0);
      expect(readFileSync(join(dir, 'agent.log'), 'utf8')).toMatch(/Investigate: delivered 5, .*truncated 5/);
      await sleep(800);
      const lines = receivedLines(d.out);
      const whole = lines.filter((l) => {
        try {
          JSON.parse((header === 'rfc5424' ? parseRfc5424(l) : parseRfc3164(l)).msg);
          return true;
        } catch { return false; }
      });
      expect({ messages: lines.length, wholeEvents: whole.length },
        `at rsyslog: ${lines.map((l) => `${Buffer.byteLength(l)} bytes …${l.slice(-20)}`).join(' | ')}`).toEqual({ messages: 5, wholeEvents: 5 });
    } finally {
      d.stop();
    }
  });
});

const ssl = (cwd: string, a: string[]) => execFileSync('openssl', a, { cwd, stdio: 'pipe' });
/** A CA of its own and a leaf signed by it (openssl CLI): days < 0 makes it expired. */
function makeCa(dir: string, name: string): { ca: string; key: string } {
  ssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { ca: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}
function makeLeaf(dir: string, name: string, ca: { ca: string; key: string }, o: { cn: string; ext: string; days: number }): { cert: string; key: string } {
  writeFileSync(join(dir, `${name}.ext`), `${o.ext}\nbasicConstraints=CA:FALSE\n`);
  ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${o.cn}`]);
  ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.ca, '-CAkey', ca.key, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(o.days), '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

describe('REMOTE TLS: certificate checks (README: --tls_ca, --tls_cert/--tls_key; "Every flag")', () => {
  const certDir = tmp('sa-aud-certs-');
  const good = makeCerts(certDir);
  const other = makeCa(certDir, 'otherca');
  const wrongName = makeLeaf(certDir, 'wrongname', { ca: good.ca, key: good.caKey }, { cn: 'siem.example.com', ext: 'subjectAltName=DNS:siem.example.com\nextendedKeyUsage=serverAuth', days: 30 });
  const expired = makeLeaf(certDir, 'expired', { ca: good.ca, key: good.caKey }, { cn: 'localhost', ext: 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth', days: -1 });
  const strangerClient = makeLeaf(certDir, 'stranger', other, { cn: 'siem-agent', ext: 'extendedKeyUsage=clientAuth', days: 30 });

  /** A run against a TLS syslog-ng that must fail at the connection: one line, exit 1, nothing fetched, nothing checkpointed, nothing received. */
  async function refused(server: { cert: string; key: string }, requireClientCert: boolean, extra: string[], want: RegExp): Promise<void> {
    const e = await emulator({ counts: { Investigate: 30, Detect: 10 } });
    const port = await freePort('tcp');
    const d = track(await startSyslogNg({ kind: 'tls', port, ca: good.ca, cert: server.cert, key: server.key, requireClientCert }));
    const dir = tmp('sa-aud-');
    const t0 = Date.now();
    const res = await runAgent(args(e, dir, ['-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', 'TLS', '--reconnect_timeout', '3', ...extra]));
    const secs = (Date.now() - t0) / 1000;
    const got = { code: res.code, stderrLines: res.stderr.trim().split('\n').length, apiRequests: e.requests.length, checkpointed: covered(e, dir, 'Investigate').length + covered(e, dir, 'Detect').length, atDaemon: d.readLines().length };
    expect(got, `stderr: ${res.stderr} (${secs.toFixed(1)} s)`).toEqual({ code: 1, stderrLines: 1, apiRequests: 0, checkpointed: 0, atDaemon: 0 });
    expect(res.stderr).toMatch(want);
  }

  it('a receiver certificate from another CA (--tls_ca names the wrong one)', () =>
    refused({ cert: good.serverCert, key: good.serverKey }, false, ['--tls_ca', other.ca], /TLS verification failed.*--tls_ca/));

  it('a receiver certificate for another host name', () =>
    refused(wrongName, false, ['--tls_ca', good.ca], /TLS verification failed \((ERR_TLS_CERT_ALTNAME_INVALID|.*HOSTNAME)/));

  it('an expired receiver certificate', () =>
    refused(expired, false, ['--tls_ca', good.ca], /TLS verification failed \(CERT_HAS_EXPIRED/));

  // A receiver that requires a client certificate (syslog-ng peer-verify(required-trusted), rsyslog
  // x509/certvalid). Under TLS 1.3 the client's handshake completes before the server has checked
  // the client's certificate: the refusal is an alert a few ms after "secureConnect".
  async function clientCertRun(extra: string[]) {
    const e = await emulator({ counts: { Investigate: 30, Detect: 10 } });
    const port = await freePort('tcp');
    const d = track(await startSyslogNg({ kind: 'tls', port, ca: good.ca, cert: good.serverCert, key: good.serverKey, requireClientCert: true }));
    const dir = tmp('sa-aud-');
    const res = await runAgent(args(e, dir, ['-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', 'TLS', '--tls_ca', good.ca, '--reconnect_timeout', '3', ...extra]));
    return { res, received: d.readLines().length, checkpointed: { Investigate: covered(e, dir, 'Investigate').length, Detect: covered(e, dir, 'Detect').length } };
  }

  // README "Outputs": a log counts as delivered once "the connection stayed healthy for a short
  // confirmation window after it"; "a receiver that keeps dropping connections gets five tries, then
  // the run stops with the marker before them". The receiver never accepts one line here.
  it('a receiver that requires a client certificate, none given, both apps: no log is checkpointed (the receiver got none)', async () => {
    const r = await clientCertRun([]);
    expect({ code: r.res.code, received: r.received, checkpointed: r.checkpointed }, `stderr: ${r.res.stderr.trim()}`)
      .toEqual({ code: 1, received: 0, checkpointed: { Investigate: 0, Detect: 0 } });
  });

  it('(one app) a receiver that requires a client certificate, none given: nothing checkpointed', async () => {
    const r = await clientCertRun(['--elastica_app', 'investigate']);
    expect({ code: r.res.code, received: r.received, checkpointed: r.checkpointed }, `stderr: ${r.res.stderr.trim()}`)
      .toEqual({ code: 1, received: 0, checkpointed: { Investigate: 0, Detect: 0 } });
  });

  // The one line must point at what to fix: the receiver refused *our* (missing or untrusted) client
  // certificate; "trust the receiver's CA with --tls_ca" sends the operator the wrong way.
  it.each([
    ['none given', [] as string[]],
    ['one the receiver does not trust', ['--tls_cert', strangerClient.cert, '--tls_key', strangerClient.key]],
  ])('client certificate %s: the one-line error says the receiver refused the client certificate (--tls_cert/--tls_key), not "--tls_ca"', async (_what, extra) => {
    const r = await clientCertRun(['--elastica_app', 'investigate', ...extra]);
    expect(r.res.code).toBe(1);
    expect(r.res.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.res.stderr).toMatch(/client certificate/i);
    expect(r.res.stderr).not.toMatch(/trust the receiver's CA with --tls_ca/);
  });

  it('--tls_ca that does not exist: one line naming the flag, before anything is fetched', () =>
    refused({ cert: good.serverCert, key: good.serverKey }, false, ['--tls_ca', join(certDir, 'nope.pem')], /--tls_ca .*nope\.pem.*ENOENT/));
});

describe('REMOTE TCP: both apps on a receiver that drops every connection a few ms after it opens', () => {
  // README "Outputs": "the re-sent lines count only once *that* connection has stayed healthy for its
  // own window (a receiver that keeps dropping connections gets five tries, then the run stops with
  // the marker before them). Both apps share the connection; one app's confirmation never covers
  // the other's lines sent after it began." This receiver never reads a byte and resets each
  // connection 5 ms after accepting it (what a TLS receiver rejecting the client certificate does,
  // see above): no log can count as delivered.
  it('nothing is checkpointed, whichever app confirms last', async () => {
    const e = await emulator({ counts: { Investigate: 40, Detect: 40 } });
    let conns = 0;
    const server = netCreateServer((sock) => {
      conns++;
      sock.pause();
      sock.on('error', () => undefined);
      setTimeout(() => sock.resetAndDestroy(), 5);
    });
    const port = await freePort('tcp');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      const dir = tmp('sa-aud-');
      const res = await runAgent(args(e, dir, ['-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', 'TCP', '--reconnect_timeout', '3', '--format', 'json']));
      const cov = { Investigate: covered(e, dir, 'Investigate').length, Detect: covered(e, dir, 'Detect').length };
      expect({ code: res.code, checkpointed: cov }, `${conns} connections; stderr: ${res.stderr.trim()}; log: ${readFileSync(join(dir, 'agent.log'), 'utf8').split('\n').filter((l) => /delivered/.test(l)).map((l) => l.replace(/^.*INFO-/, '').slice(0, 60)).join(' | ')}`)
        .toEqual({ code: 1, checkpointed: { Investigate: 0, Detect: 0 } });
    } finally {
      server.close();
    }
  });
});

describe('REMOTE TCP: a receiver that hangs (stops reading), then is killed', () => {
  // README "Outputs": "Plain TCP syslog has no acknowledgement, so one case stays out of reach: a
  // receiver that had *read* lines and dies before storing them — the confirmation catches a
  // receiver that dies with data still in its socket, not one that dies after reading it."
  // A hung daemon (blocked output, full queue, SIGSTOP) stops reading; an operator kills it. The
  // receiver here records every byte its process read (also what Node had buffered when it stopped
  // reading), so the rest was still in its socket when it died: the marker must not cover it.
  // KNOWN LIMIT, not fixed (README "Outputs", TCP): plain TCP syslog has no acknowledgement; lines
  // the receiver's kernel acknowledged but its process never read die with it. Kept as the
  // reproduction for whoever adds an application-level acknowledgement (RELP).
  it.skip('the marker covers only logs the receiver read; logs left in its socket when it died are not checkpointed', async () => {
    const e = await emulator({ counts: { Investigate: 300, Detect: 0 } });
    let received = '';
    const conns = new Set<import('node:net').Socket>();
    const server = netCreateServer((c) => {
      conns.add(c);
      c.setEncoding('utf8').on('data', (d: string) => { received += d; });
      c.on('error', () => undefined);
    });
    const port = await freePort('tcp');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const dir = tmp('sa-aud-');
    const a = startAgent(args(e, dir, ['--elastica_app', 'investigate', '-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', 'TCP',
      '--syslog_header', 'none', '--format', 'json', '--rate', '100', '--page_size', '25', '--reconnect_timeout', '1']));
    children.push(a.child);
    try {
      for (let i = 0; i < 100 && received.split('\n').length < 60; i++) await sleep(50);
      for (const c of conns) c.pause(); // hangs: reads nothing more
      await sleep(1500);
      for (const c of conns) {
        for (let chunk = c.read(); chunk !== null; chunk = c.read()) received += String(chunk); // what the process had read
      }
      server.close();
      for (const c of conns) c.resetAndDestroy(); // killed: the kernel drops what is still in its socket
      const res = await a.done;
      const got = new Set(received.split('\n').filter((l) => l.endsWith('}')).map((l) => idIn(l)!));
      const cov = covered(e, dir, 'Investigate');
      const lost = cov.filter((r) => !got.has(r._id)).length;
      expect(lost, `exit ${res.code}; ${got.size} logs read by the receiver, ${cov.length} checkpointed; stderr: ${res.stderr.trim()}`).toBe(0);
    } finally {
      server.close();
    }
  }, 30_000);
});

describe('syslog headers as rsyslog parses them (README "Every flag": --syslog_header, --facility; "Formats": severity → PRI)', () => {
  const SEV: Record<string, number> = { critical: 2, error: 3, warning: 4, informational: 6, high: 3, medium: 4, low: 5 };
  it.each([
    ['UDP', 'udp', 'rfc3164'],
    ['TCP', 'tcp', 'rfc5424'],
    ['UDP', 'udp', 'rfc5424'],
  ] as const)('REMOTE %s (%s) --syslog_header %s --facility local4: hostname, app name, pid, facility, severity and the whole event as rsyslog reads them', async (sockType, kind, header) => {
    const inv = ['critical', 'error', 'warning', 'informational'].map((s, i) => rec(i + 1, { severity: s, message: `line1\nline2 é 😀 \\ = | ${s}` }));
    const det = ['high', 'medium', 'low'].map((s, i) => rec(i + 11, { severity: s }));
    const e = await emulator({ Investigate: inv, Detect: det });
    const dir = tmp('sa-aud-');
    const port = await freePort(kind);
    const input = kind === 'tcp'
      ? 'module(load="imtcp")\ninput(type="imtcp" address="127.0.0.1" port="@PORT@")'
      : 'module(load="imudp")\ninput(type="imudp" address="127.0.0.1" port="@PORT@")';
    const d = await customRsyslog(`${input}\ntemplate(name="parsed" type="list") { property(name="hostname") constant(value="|") property(name="programname") constant(value="|") property(name="procid") constant(value="|") property(name="syslogfacility-text") constant(value="|") property(name="syslogseverity") constant(value="|") property(name="msg" format="json") constant(value="\\n") }\naction(type="omfile" file="@OUT@" template="parsed")`, port, kind);
    try {
      const a = startAgent(args(e, dir, ['--format', 'json', '-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--socket_type', sockType, '--syslog_header', header, '--facility', 'local4']),
        withHostname('siem-agent-host.example.net'));
      const res = await a.done;
      expect(res.code, res.stderr).toBe(0);
      await sleep(800);
      const rows = receivedLines(d.out).map((l) => {
        const [host, app, pid, fac, sev, ...rest] = l.split('|');
        // rsyslog's msg of an RFC 3164 message keeps the space after "TAG:"
        const msg = JSON.parse(`"${rest.join('|')}"`) as string;
        const r = JSON.parse(msg.replace(/^ /, '')) as LogRecord;
        return { host, app, pidOk: /^\d+$/.test(pid!) && Number(pid) === a.child.pid, fac, sev: Number(sev), id: r._id, sevWord: r.severity as string, msgOk: JSON.stringify(r) === JSON.stringify([...inv, ...det].find((x) => x._id === r._id)) };
      });
      expect(rows).toHaveLength(7);
      for (const row of rows) {
        expect(row, JSON.stringify(row)).toMatchObject({ host: 'siem-agent-host.example.net', app: 'siem-agent', pidOk: true, fac: 'local4', msgOk: true });
        expect(row.sev, row.sevWord).toBe(SEV[row.sevWord]);
      }
    } finally {
      d.stop();
    }
  });
});

describe('REMOTE TLS (octet counting): syslog-ng killed (-9) and restarted mid-run', () => {
  // README "Outputs": TCP and TLS reconnect; "everything written since the last confirmation is re-sent
  // on a new connection ... (receivers may then see a few lines twice)". Every log arrives; a few
  // duplicates are documented.
  it('every log arrives at the daemon, whole; duplicates only a few; exit 0', async () => {
    const e = await emulator({ counts: { Investigate: 300, Detect: 100 }, hostile: true, seed: 43 });
    const c = makeCerts(tmp('sa-aud-certs-'));
    const port = await freePort('tcp');
    const d = track(await startSyslogNg({ kind: 'tls', port, ca: c.ca, cert: c.serverCert, key: c.serverKey, framing: 'octet' }));
    const dir = tmp('sa-aud-');
    const a = startAgent(args(e, dir, ['-o', 'REMOTE', '-t', `localhost:${port}`, '--socket_type', 'TLS', '--framing', 'octet', '--tls_ca', c.ca,
      '--syslog_header', 'rfc5424', '--format', 'json', '--rate', '100', '--page_size', '50']));
    children.push(a.child);
    await sleep(1500);
    await d.restart();
    const res = await a.done;
    expect(res.code, res.stderr).toBe(0);
    const lines = await d.waitForLines(400, 10_000);
    const ids = lines.map((l) => (JSON.parse(parseRfc5424(l).msg) as LogRecord)._id);
    const uniq = new Set(ids);
    const missing = [...e.logs.Investigate, ...e.logs.Detect].filter((r) => !uniq.has(r._id)).length;
    expect({ missing, duplicates: ids.length - uniq.size <= 100 }).toEqual({ missing: 0, duplicates: true });
  }, 60_000);
});

describe('REMOTE UDP: an event larger than a datagram can carry (--max_message_size 0)', () => {
  // README: SYSLOG says "message of N bytes too large for the socket; lower --max_message_size" for
  // the same failure; a UDP datagram holds at most 65,507 bytes. The operator needs the same hint, and
  // the marker must stop just before the big log.
  it('one clear line naming --max_message_size; the marker stops before the big log; everything before it arrived', async () => {
    const logs = [1, 2, 3, 4, 5, 6].map((i) => rec(i, i === 4 ? { message: 'B'.repeat(70_000) } : {}));
    const e = await emulator({ Investigate: logs, Detect: [] });
    const port = await freePort('udp');
    const got: string[] = [];
    const rx = createSocket('udp4');
    rx.on('message', (m) => { const id = idIn(m.toString('utf8')); if (id) got.push(id); });
    await new Promise<void>((r) => rx.bind(port, '127.0.0.1', () => r()));
    try {
      const dir = tmp('sa-aud-');
      const res = await runAgent(args(e, dir, ['--elastica_app', 'investigate', '--format', 'json', '-o', 'REMOTE', '-t', `127.0.0.1:${port}`, '--max_message_size', '0']));
      await sleep(200);
      expect({ code: res.code, lines: res.stderr.trim().split('\n').length, checkpointed: covered(e, dir, 'Investigate').map((r) => r._id), received: got })
        .toEqual({ code: 1, lines: 1, checkpointed: ['aud0001', 'aud0002', 'aud0003'], received: ['aud0001', 'aud0002', 'aud0003'] });
      expect(res.stderr).toMatch(/too large.*--max_message_size/);
    } finally {
      rx.close();
    }
  });
});
