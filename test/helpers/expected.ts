import { isIP } from 'node:net';
import type { LogRecord } from '../../src/types.js';

// The documented mapping (README "CEF"), restated here rather than imported from the formatter.
export const CEF_STANDARD: Record<string, string> = {
  message: 'msg', user: 'suser', host: 'src', service: 'destinationServiceName', activity_type: 'act',
  user_agent: 'requestClientApplication', resource_id: 'fileId',
};
export const CEF_CUSTOM: Record<string, string> = {
  object_type: 'cs1', name: 'cs2', severity: 'cs3', policy_violated: 'cs4', incident_id: 'cs5', user_name: 'cs6',
};
export const sanitise = (k: string) => k.replace(/[^A-Za-z0-9_]/g, '_') || '_';
/** README "Formats": in CEF every C0 control character but TAB, LF and CR arrives as U+FFFD (LEEF: onLeefWire). */
export const onWire = (s: string) => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '\ufffd');
/** A value as CEF carries it. */
export const asText = (v: unknown) => onWire(typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** README "CEF": the lengths of ArcSight's dictionary; a longer value is capped there, its full text in ad.<field>. */
export const CEF_MAX: Record<string, number> = {
  externalId: 40, msg: 1023, suser: 1023, shost: 1023, destinationServiceName: 1023, act: 63, requestClientApplication: 1023, fileId: 1023,
  cs1: 4000, cs2: 4000, cs3: 4000, cs4: 4000, cs5: 4000, cs6: 4000,
};
const capped = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, /[\ud800-\udbff]/.test(s[max - 2]!) ? max - 2 : max - 1)}…`);

/** Expected CEF extension keys for a record whose field names do not clash after sanitising. */
export function cefExpected(r: LogRecord, app = 'Investigate'): Record<string, string> | undefined {
  // no prototype: a field named like an Object.prototype member must not read as a key already taken
  const out = Object.assign(Object.create(null) as Record<string, string>, { rt: String(Date.parse(r.created_timestamp)), cat: app });
  const put = (key: string, k: string, value: string): boolean => {
    if (Object.hasOwn(out, key)) return false; // two names that sanitise alike: covered by the _2 rule, not this check
    out[key] = capped(value, CEF_MAX[key] ?? Infinity);
    // cut in its key: the full text also as ad.<field>
    if (out[key] !== value) return put(`ad.${sanitise(k)}`, k, value);
    return true;
  };
  for (const [k, v] of Object.entries(r)) {
    if (k === 'created_timestamp') continue;
    let key = k === '_id' ? 'externalId' : (Object.hasOwn(CEF_STANDARD, k) ? CEF_STANDARD[k] : undefined) ?? (Object.hasOwn(CEF_CUSTOM, k) ? CEF_CUSTOM[k] : undefined);
    // typed keys take only values of their type (CEF Integer: 32 bits; Long: safe integers here)
    if (k === 'file_size') key = Number.isInteger(v) && Math.abs(v as number) <= 2_147_483_647 && v !== -2_147_483_648 ? 'fsize' : undefined;
    if (k === 'file_size' && v === -2_147_483_648) key = 'fsize';
    if (k === 'latitude') key = typeof v === 'number' ? 'slat' : undefined;
    if (k === 'longitude') key = typeof v === 'number' ? 'slong' : undefined;
    if (k === 'threat_score') key = Number.isSafeInteger(v) ? 'cn1' : undefined;
    // src is an IP address; a host name goes to shost
    if (k === 'host') key = typeof v === 'string' && isIP(v) !== 0 && !v.includes('%') ? 'src' : typeof v === 'string' && v !== '' ? 'shost' : undefined;
    key ??= `ad.${sanitise(k)}`;
    if (!put(key, k, asText(v))) return undefined;
  }
  return out;
}

/** README "LEEF 2.0": LF and CR as the two characters \\n and \\r, every other C0 control (TAB too) as U+FFFD. */
export const onLeefWire = (s: string) => s.replace(/[\x00-\x1f]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\ufffd'));
const rawText = (v: unknown) => (typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
/** IBM's LEEF 2.0 guide, "Predefined LEEF event attributes" (identSecondlp as IBM spells it). */
export const LEEF_PREDEFINED = ['cat', 'devTime', 'devTimeFormat', 'proto', 'sev', 'src', 'dst', 'srcPort', 'dstPort', 'srcPreNAT', 'dstPreNAT',
  'srcPostNAT', 'dstPostNAT', 'usrName', 'srcMAC', 'dstMAC', 'srcPreNATPort', 'dstPreNATPort', 'srcPostNATPort', 'dstPostNATPort', 'identSrc',
  'identHostName', 'identNetBios', 'identGrpName', 'identMAC', 'vSrc', 'vSrcName', 'accountName', 'srcBytes', 'dstBytes', 'srcPackets',
  'dstPackets', 'totalPackets', 'role', 'realm', 'policy', 'resource', 'url', 'groupID', 'domain', 'isLoginEvent', 'isLogoutEvent',
  'identSecondlp', 'calLanguage', 'calCountryOrRegion'];
/** README "LEEF 2.0": the delimiter candidates, in order. */
export const LEEF_DELIMITERS = ['^', '~', '`', '!', '#', '$', '%', '&', '*', '+', ';', ',', '/', '?', '@', '<', '>', '"', '(', ')', '{', '}', '[', ']'];

/** Expected LEEF attributes (README "LEEF 2.0") for a record whose field names do not clash after sanitising. */
export function leefExpected(r: LogRecord, app = 'Investigate'): Record<string, string> | undefined {
  const out = Object.assign(Object.create(null) as Record<string, string>, { cat: app });
  // keys the agent writes itself, and every predefined key: no other field may take one
  const reserved = new Set(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'usrName', 'src', 'srcHostName', 'identSecondIp', ...LEEF_PREDEFINED]);
  for (const [k, v] of Object.entries(r)) {
    if (k === 'created_timestamp') continue;
    const own = k === '_id' ? 'externalId' : k === 'user' ? 'usrName' : k === 'host' ? (isIP(rawText(v)) !== 0 && !rawText(v).includes('%') ? 'src' : 'srcHostName') : undefined;
    const key = own ?? sanitise(k);
    // a field taking a reserved key is numbered (key_2): covered by the _2 rule, not this check
    if (own === undefined && reserved.has(key)) return undefined;
    if (Object.hasOwn(out, key)) return undefined;
    out[key] = onLeefWire(rawText(v));
  }
  // every candidate delimiter in some value: ^ is declared and a ^ in a value arrives as U+FFFD
  const all = Object.values(out).join('');
  if (LEEF_DELIMITERS.every((d) => all.includes(d))) for (const k of Object.keys(out)) out[k] = out[k]!.replaceAll('^', '\ufffd');
  return out;
}

/** The documented truncation: the value itself, or a prefix of it followed by an ellipsis. */
export const truncatedOk = (got: string | undefined, want: string) =>
  got === want || (got !== undefined && got.endsWith('…') && want.startsWith(got.slice(0, -1)));
