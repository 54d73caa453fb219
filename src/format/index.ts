import { formatCef } from './cef.js';
import { formatJson } from './json.js';
import { formatLeef } from './leef.js';
import type { Format } from './fields.js';

export const FORMATS: Record<string, Format> = { cef: formatCef, leef: formatLeef, json: formatJson };
export const SIEM_FORMAT: Record<string, string> = { arcsight: 'cef', qradar: 'leef', splunk: 'json' };
export type { Format, FormatContext } from './fields.js';
