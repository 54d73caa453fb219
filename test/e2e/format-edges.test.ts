// Formats and framing at the edges: numbers JSON.parse would change, octet counts of odd text, a
// NUL inside a value through a real syslog-ng. Each test states what a conforming reader expects.
import { afterEach, describe, expect, it } from 'vitest';
import { formatCef } from '../../src/format/cef.js';
import { formatLeef } from '../../src/format/leef.js';
import { formatJson } from '../../src/format/json.js';
import type { FormatContext } from '../../src/format/fields.js';
import { frame } from '../../src/output/framing.js';
import { encodeLines } from '../../src/output/encode.js';
import { remoteOutput } from '../../src/output/remote.js';
import { parseBody } from '../../src/source/page-json.js';
import type { LogRecord } from '../../src/types.js';
import { daemonsAvailable, freePort, startSyslogNg, type Daemon } from '../helpers/daemons.js';
import { parseCef, parseLeef, parseSyslogFrame } from '../helpers/parsers.js';

const ctx = (over: Partial<FormatContext> = {}): FormatContext => ({ app: 'Investigate', version: '1.0.0', maxBytes: 0, ...over });
const TS = '2026-11-22T10:00:00.123Z';
const rec = (over: Record<string, unknown> = {}): LogRecord => ({ _id: 'abc123', created_timestamp: TS, severity: 'error', service: 'Box', ...over });

describe('numbers from the API (README JSON: "the API\'s record exactly as received")', () => {
  const body = Buffer.from(`{"meta":{"limit":1,"total_count":1,"next":null},"logs":[{"_id":"a1","created_timestamp":"${TS}","severity":"high","service":"Box","incident_id":9007199254740993,"resource_id":12345678901234567890}]}`);
  const page = parseBody(body) as { logs: LogRecord[] };

  it('JSON: integers above 2^53 keep their digits', () => {
    const line = formatJson(page.logs[0]!, ctx({ app: 'Detect' }));
    expect(line).toContain('"incident_id":9007199254740993');
    expect(line).toContain('"resource_id":12345678901234567890');
  });

  it('CEF: cs5 (incidentId) and fileId carry the same digits the API sent', () => {
    const ext = parseCef(formatCef(page.logs[0]!, ctx({ app: 'Detect' }))).extension;
    expect(ext.cs5).toBe('9007199254740993');
    expect(ext.fileId).toBe('12345678901234567890');
  });
});

describe('numbers JSON.parse would change, through every path of the formats', () => {
  const body = Buffer.from(`{"meta":{"next":null},"logs":[{"_id":"a1","created_timestamp":"${TS}","severity":"high","service":"Box",` +
    `"incident_id":12345678901234567890,"nested":{"n":[9007199254740993]},"message":"${'m'.repeat(3000)}"}]}`);
  const log = () => (parseBody(body) as { logs: LogRecord[] }).logs[0]!;

  it('JSON shortened to --max_message_size keeps them whole, and as numbers', () => {
    const line = formatJson(log(), ctx({ maxBytes: 1000 }));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1000);
    expect(line).toContain('"incident_id":12345678901234567890');
    expect(line).toContain('"nested":{"n":[9007199254740993]}');
  });

  it('CEF and LEEF write them as the digits, also inside a nested value', () => {
    const cef = parseCef(formatCef(log(), ctx({ app: 'Detect' }))).extension;
    expect(cef['ad.nested']).toBe('{"n":[9007199254740993]}');
    const leef = parseLeef(formatLeef(log(), ctx({ app: 'Detect' }))).attrs;
    expect([leef.incident_id, leef.nested]).toEqual(['12345678901234567890', '{"n":[9007199254740993]}']);
  });
});

describe('framing: byte counts (RFC 6587 §3.4.1 MSG-LEN is octets)', () => {
  it('octet-counting prefix equals the UTF-8 bytes written, for emoji and lone surrogates ', () => {
    const msgs = ['😀 é 中', 'lone \ud800 high', 'lone \udfff low', formatCef(rec({ message: 'a\ud83d' }), ctx())];
    const buf = encodeLines(msgs, '', (l) => frame(l, 'octet'));
    const back = parseSyslogFrame(buf.toString('utf8'), 'octet');
    expect(back).toEqual(msgs.map((m) => Buffer.from(m, 'utf8').toString('utf8')));
  });
});

describe.skipIf(!daemonsAvailable().syslogNg)('NUL inside a value, TCP with LF framing into syslog-ng (README: "no field value can end the line or forge a field")', () => {
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
  });

  it('one CEF and one LEEF event with a NUL in a value arrive as exactly two events, the NUL as U+FFFD (LEEF: a ^ and a tab forge nothing)', async () => {
    const port = await freePort('tcp');
    d = await startSyslogNg({ kind: 'tcp', port });
    const out = remoteOutput({ kind: 'REMOTE', host: '127.0.0.1', port, socketType: 'TCP', header: 'none', framing: 'lf', facility: 1 }, 2000);
    await out.open();
    const message = 'before\u0000after cs1\\=forged';
    const cef = formatCef(rec({ message }), ctx());
    // LEEF: also a delimiter and a tab, which IBM's guide reads as attribute separators
    const leefMessage = `${message}^dst=203.0.113.9\tidentSrc=10.9.9.9`;
    const leef = formatLeef(rec({ message: leefMessage }), ctx());
    await out.write([cef, leef], [3, 3]);
    await out.confirm!();
    await out.close();
    const lines = await d.waitForLines(2, 5000);
    expect(lines.length, `received: ${JSON.stringify(lines)}`).toBe(2);
    // README "Control characters": C0 controls but TAB, LF and CR are written as U+FFFD
    expect(parseCef(lines[0]!).extension.msg).toBe(message.replace('\u0000', '\ufffd'));
    // README "LEEF 2.0": the event declares a delimiter in none of its values; TAB is U+FFFD too
    const got = parseLeef(lines[1]!);
    expect(got.delimiter).toBe('~');
    expect(got.attrs.message).toBe(leefMessage.replace('\u0000', '\ufffd').replace('\t', '\ufffd'));
    expect([got.attrs.dst, got.attrs.identSrc]).toEqual([undefined, undefined]);
  });
});
