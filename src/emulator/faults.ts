import type { AppName } from '../types.js';

export type FaultType =
  | 'http500json' | 'http502html' | 'http503' | 'http504'
  | 'http429'
  | 'hang'
  | 'reset'
  | 'truncated'
  | 'notjson'
  | 'nologs'
  | 'repeat'
  | 'totalcount'
  | 'http400' | 'http401' | 'http403' | 'http404';

export interface FaultSpec {
  type: FaultType;
  count?: number;        // the next `count` matching requests, then stop (default: unlimited)
  probability?: number;  // chance per matching request (default 1)
  app?: AppName;
  onlyPaged?: boolean;   // only requests with a cursor (not a first page)
  retryAfter?: number;   // seconds, for http429
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
