import type { AppName } from '../types.js';

export type FaultType =
  | 'http500json' | 'http502html' | 'http503' | 'http504'
  | 'http429'            // 429 with Retry-After: retryAfter (default 1) seconds
  | 'hang'               // accept the request, never answer (until close())
  | 'reset'              // write the status + part of the body, then destroy the socket
  | 'truncated'          // 200 with the page's JSON cut in the middle, content-length matching
  | 'notjson'            // 200 with an HTML body
  | 'nologs'             // 200 with {"meta":{...}} and no logs array
  | 'badlog'             // a normal page whose first log is not valid JSON (brackets still balanced)
  | 'repeat'             // a normal page with the first `n` logs of the previous page prepended
  | 'totalcount'         // a normal page whose total_count is random
  | 'http400' | 'http401' | 'http403' | 'http404';

export const FAULT_TYPES: readonly FaultType[] = [
  'http500json', 'http502html', 'http503', 'http504', 'http429', 'hang', 'reset', 'truncated',
  'notjson', 'nologs', 'badlog', 'repeat', 'totalcount', 'http400', 'http401', 'http403', 'http404',
];

export interface FaultSpec {
  type: FaultType;
  count?: number;        // the next `count` matching requests, then stop (default: unlimited)
  probability?: number;  // 0..1 chance per matching request (default 1)
  app?: AppName;         // only requests for this app
  onlyPaged?: boolean;   // only requests with a cursor (not a first page)
  retryAfter?: number;   // seconds, for http429 (default 1)
  n?: number;            // for repeat: how many logs of the previous page to prepend (default 5)
}

/** Throws on anything that is not a FaultSpec[]: the admin endpoint takes JSON from another process. */
export function checkFaults(v: unknown): FaultSpec[] {
  if (!Array.isArray(v)) throw new Error('faults must be a JSON array');
  for (const f of v as Array<Partial<FaultSpec>>) {
    if (typeof f !== 'object' || f === null || !FAULT_TYPES.includes(f.type as FaultType)) {
      throw new Error(`unknown fault ${JSON.stringify(f)}`);
    }
  }
  return v as FaultSpec[];
}

/** Picks the fault for one request: the first applicable spec, consuming its count. */
export class Faults {
  private specs: Array<FaultSpec & { left?: number }> = [];
  constructor(private rnd: () => number = Math.random) {}

  set(specs: FaultSpec[]): void {
    this.specs = specs.map((s) => ({ ...s, left: s.count }));
  }

  pick(app: string | undefined, paged: boolean): FaultSpec | undefined {
    for (const s of this.specs) {
      if (s.left !== undefined && s.left <= 0) continue;
      if (s.app && s.app !== app) continue;
      if (s.onlyPaged && !paged) continue;
      if (s.probability !== undefined && this.rnd() >= s.probability) continue;
      if (s.left !== undefined) s.left--;
      return s;
    }
    return undefined;
  }
}

export interface Canned { status: number; body: string; type: string; headers?: Record<string, string> }

/** The fixed answers: errors as a service or the load balancer in front of it would give them. */
export function cannedResponse(f: FaultSpec): Canned | undefined {
  const json = (status: number, error: string): Canned => ({ status, body: JSON.stringify({ error }), type: 'application/json' });
  switch (f.type) {
    case 'http500json': return json(500, 'internal server error');
    case 'http502html': return { status: 502, body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\r\n</html>\r\n', type: 'text/html' };
    case 'http503': return { status: 503, body: 'Service Unavailable', type: 'text/plain' };
    case 'http504': return { status: 504, body: '<html><head><title>504 Gateway Time-out</title></head><body>504 Gateway Time-out</body></html>', type: 'text/html' };
    case 'http429': return { status: 429, body: JSON.stringify({ error: 'too many requests' }), type: 'application/json', headers: { 'retry-after': String(f.retryAfter ?? 1) } };
    case 'http400': return json(400, 'bad query parameter');
    case 'http401': return { status: 401, body: '', type: 'application/json' };
    case 'http403': return json(403, 'the access profile of this key does not allow this app');
    case 'http404': return json(404, 'unknown tenant');
    case 'notjson': return { status: 200, body: '<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>', type: 'text/html' };
    case 'nologs': return { status: 200, body: JSON.stringify({ meta: { limit: 1000, total_count: 0, next: null } }), type: 'application/json' };
    default: return undefined; // hang, reset, truncated, badlog, repeat, totalcount shape the real page
  }
}
