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
/** README "Formats": in CEF and LEEF every C0 control character but TAB, LF and CR arrives as U+FFFD. */
export const onWire = (s: string) => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '\ufffd');
/** A value as CEF and LEEF carry it. */
export const asText = (v: unknown) => onWire(typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Expected CEF extension keys for a record whose field names do not clash after sanitising. */
export function cefExpected(r: LogRecord, app = 'Investigate'): Record<string, string> | undefined {
  // no prototype: a field named like an Object.prototype member must not read as a key already taken
  const out = Object.assign(Object.create(null) as Record<string, string>, { externalId: r._id, rt: String(Date.parse(r.created_timestamp)), cat: app });
  for (const [k, v] of Object.entries(r)) {
    if (k === '_id' || k === 'created_timestamp') continue;
    let key = (Object.hasOwn(CEF_STANDARD, k) ? CEF_STANDARD[k] : undefined) ?? (Object.hasOwn(CEF_CUSTOM, k) ? CEF_CUSTOM[k] : undefined);
    if (k === 'file_size') key = Number.isInteger(v) ? 'fsize' : undefined;
    if (k === 'latitude') key = typeof v === 'number' ? 'slat' : undefined;
    if (k === 'longitude') key = typeof v === 'number' ? 'slong' : undefined;
    if (k === 'threat_score') key = Number.isInteger(v) ? 'cn1' : undefined;
    key ??= `ad.${sanitise(k)}`;
    if (Object.hasOwn(out, key)) return undefined; // two names that sanitise alike: covered by the _2 rule, not this check
    out[key] = asText(v);
  }
  return out;
}

export function leefExpected(r: LogRecord, app = 'Investigate'): Record<string, string> | undefined {
  const out = Object.assign(Object.create(null) as Record<string, string>, { cat: app });
  const renamed: Record<string, string> = { _id: 'externalId', user: 'usrName', host: 'src' };
  for (const [k, v] of Object.entries(r)) {
    if (k === 'created_timestamp') continue;
    const key = (Object.hasOwn(renamed, k) ? renamed[k] : undefined) ?? sanitise(k);
    // the renamed keys are reserved for their fields: any other field taking one is numbered
    if (!Object.hasOwn(renamed, k) && Object.values(renamed).includes(key)) return undefined;
    if (Object.hasOwn(out, key) || ['devTime', 'devTimeFormat', 'sev'].includes(key)) return undefined;
    out[key] = asText(v);
  }
  return out;
}


/** The documented truncation: the value itself, or a prefix of it followed by an ellipsis. */
export const truncatedOk = (got: string | undefined, want: string) =>
  got === want || (got !== undefined && got.endsWith('…') && want.startsWith(got.slice(0, -1)));
