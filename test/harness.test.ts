// The judges themselves: spec parsers against the specs' own examples, and the private daemons.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCef, parseLeef, parseRfc3164, parseRfc5424, parseSyslogFrame } from './helpers/parsers.js';
import { daemonsAvailable, freePort, startRsyslog, startSyslogNg, type Daemon } from './helpers/daemons.js';
import { makeCerts } from './helpers/certs.js';
import { jsonLinesAfterKills, tmp } from './helpers/agent.js';

describe('CEF parser, on the ArcSight specification examples', () => {
  it('parses the basic example', () => {
    const r = parseCef('CEF:0|security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232');
    expect(r).toMatchObject({ version: '0', vendor: 'security', product: 'threatmanager', signatureId: '100', severity: '10' });
    expect(r.extension).toEqual({ src: '10.0.0.1', dst: '2.1.2.2', spt: '1232' });
  });
  it('unescapes header pipes and backslashes', () => {
    expect(parseCef('CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|src=10.0.0.1').name).toBe('detected a | in message');
    expect(parseCef('CEF:0|security|threatmanager|1.0|100|detected a \\\\ in packet|10|src=10.0.0.1').name).toBe('detected a \\ in packet');
  });
  it('unescapes extension = and \\, keeps spaces and pipes, decodes \\n', () => {
    const r = parseCef('CEF:0|security|threatmanager|1.0|100|x|10|src=10.0.0.1 act=blocked a \\= dst=1.1.1.1 msg=a | b\\\\c\\nd');
    expect(r.extension).toEqual({ src: '10.0.0.1', act: 'blocked a =', dst: '1.1.1.1', msg: 'a | b\\c\nd' });
  });
  it('rejects what a broken formatter would write', () => {
    expect(() => parseCef('CEF:0|a|b|c|d|e|5|msg=two\nlines')).toThrow();
    expect(() => parseCef('CEF:0|a|b|c|d|e|5|msg=has = sign')).toThrow();
    expect(() => parseCef('CEF:0|a|b|c|d|e|5|msg=bad \\q escape')).toThrow();
    expect(() => parseCef('CEF:0|a|b|c|d|5|msg=x')).toThrow();
  });
});

describe('LEEF 2.0 parser', () => {
  it('reads the header, a declared delimiter and values as written (LEEF defines no escaping)', () => {
    const r = parseLeef('LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^msg=a|b\\c\\nd^k=v=w');
    expect(r).toMatchObject({ vendor: 'Lancope', eventId: '41', delimiter: '^' });
    expect(r.attrs).toEqual({ src: '10.0.1.8', dst: '10.0.0.5', msg: 'a|b\\c\\nd', k: 'v=w' });
    // a backslash does not protect the delimiter: this is two attributes, the second without '='
    expect(() => parseLeef('LEEF:2.0|V|P|1|E|^|msg=a\\^b')).toThrow();
  });
  it('hex and default delimiters; a tab separates attributes whatever the delimiter', () => {
    expect(parseLeef('LEEF:2.0|V|P|1|E|x09|a=1\tb=2').attrs).toEqual({ a: '1', b: '2' });
    expect(parseLeef('LEEF:2.0|V|P|1|E||a=1\tb=2').attrs).toEqual({ a: '1', b: '2' });
    expect(parseLeef('LEEF:2.0|V|P|1|E|x5E|a=1^b=2').attrs).toEqual({ a: '1', b: '2' });
    expect(parseLeef('LEEF:2.0|V|P|1|E|0x7e|a=1~b=2\tc=3').attrs).toEqual({ a: '1', b: '2', c: '3' });
  });
});

describe('syslog framing and headers', () => {
  it('octet counting counts bytes, not characters', () => {
    const a = 'héllo wörld';
    expect(parseSyslogFrame(`${Buffer.byteLength(a)} ${a}5 abcde`, 'octet')).toEqual([a, 'abcde']);
    expect(() => parseSyslogFrame(`${a.length} ${a}`, 'octet')).toThrow();
  });
  it('RFC 3164 and RFC 5424', () => {
    expect(parseRfc3164('<14>Nov  4 10:00:00 host siem-agent[42]: CEF:0|x')).toMatchObject({ facility: 1, severity: 6, hostname: 'host', tag: 'siem-agent', pid: 42, msg: 'CEF:0|x' });
    expect(parseRfc5424('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event')).toMatchObject({ appName: 'evntslog', msgId: 'ID47', msg: 'An application event' });
    expect(parseRfc5424('<14>1 2026-11-24T22:00:00.000Z h siem-agent 7 - - x y').msg).toBe('x y');
  });
});

describe('private daemons receive byte-exact messages', () => {
  const started: Daemon[] = [];
  afterAll(() => Promise.all(started.map((d) => d.stop())));
  const msg = 'CEF:0|a|b|c|d|e|5|msg=pipe | eq \\= back\\\\ tab\there é 😀';
  it('both daemons are installed (CI runs .ci/setup-daemons.sh)', () => {
    expect(daemonsAvailable()).toEqual({ rsyslog: true, syslogNg: true });
  });
  it.each(['rsyslog', 'syslog-ng'] as const)('%s over TCP (LF) and UDP', async (which) => {
    const start = which === 'rsyslog' ? startRsyslog : startSyslogNg;
    const tcpPort = await freePort('tcp');
    const tcp = await start({ kind: 'tcp', port: tcpPort });
    started.push(tcp);
    await new Promise<void>((resolve) => { const s = connect(tcpPort, '127.0.0.1', () => s.end(`<14>${msg}\n`, () => resolve())); });
    expect(await tcp.waitForLines(1, 5000)).toEqual([`<14>${msg}`]);
    const udpPort = await freePort('udp');
    const udp = await start({ kind: 'udp', port: udpPort });
    started.push(udp);
    const u = createSocket('udp4');
    await new Promise<void>((r) => u.send(`<14>${msg}`, udpPort, '127.0.0.1', () => r()));
    u.close();
    expect(await udp.waitForLines(1, 5000)).toEqual([`<14>${msg}`]);
  });
  it('rsyslog on a unix datagram socket (unix-dgram addon) and syslog-ng with octet framing over TLS', async () => {
    const dir = tmp('sa-h-');
    const sock = join(dir, 'log.sock');
    const d = await startRsyslog({ kind: 'unix-dgram', path: sock });
    started.push(d);
    const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: string): { send(b: Buffer, o: number, l: number, p: string, cb: (e?: Error) => void): void; close(): void } };
    const s = unix.createSocket('unix_dgram');
    const buf = Buffer.from(`<14>Nov 24 10:00:00 siem-agent[1]: ${msg}`);
    await new Promise<void>((r, j) => s.send(buf, 0, buf.length, sock, (e) => (e ? j(e) : r())));
    s.close();
    expect(await d.waitForLines(1, 5000)).toEqual([buf.toString()]);
    const c = makeCerts(tmp('sa-hc-'));
    const port = await freePort('tcp');
    const t = await startSyslogNg({ kind: 'tls', port, ca: c.ca, cert: c.serverCert, key: c.serverKey });
    started.push(t);
    const payload = `<14>${msg}`;
    await new Promise<void>((resolve, reject) => {
      const ts = tlsConnect({ host: 'localhost', port, ca: readFileSync(c.ca) }, () => ts.end(`${Buffer.byteLength(payload)} ${payload}`, () => resolve()));
      ts.on('error', reject);
    });
    expect(await t.waitForLines(1, 5000)).toEqual([payload]);
  });
});

describe('jsonLinesAfterKills, the reader of files written by killed runs', () => {
  const file = (text: string) => {
    const p = join(tmp('sa-judge-'), 'out.json');
    writeFileSync(p, text);
    return p;
  };
  it('leaves out a cut line only when the same line comes later in full', () => {
    const full = '{"_id":"b","x":1}';
    expect(jsonLinesAfterKills(file(`{"_id":"a"}\n{"_id":"b",\n${full}\n`)).map((r) => r._id)).toEqual(['a', 'b']);
    expect(() => jsonLinesAfterKills(file(`{"_id":"a"}\n{"_id":"c",\n${full}\n`))).toThrow(/line 2 is neither JSON/);
    // glued to the next run's first line, as without the agent's repair: caught
    expect(() => jsonLinesAfterKills(file(`{"_id":"b",${full}\n${full}\n`))).toThrow(/line 1/);
  });
  it('leaves out a last piece that no run has ended yet', () => {
    expect(jsonLinesAfterKills(file('{"_id":"a"}\n{"_id":"b","x"')).map((r) => r._id)).toEqual(['a']);
  });
});
