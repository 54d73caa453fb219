// A host clock off from the API's, for one child process only: NODE_OPTIONS=--require of a tiny
// shim that shifts Date by SA_CLOCK_OFFSET_MS (timers untouched; no system clock or zone changed).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from './agent.js';

const SHIM = `
const OFF = Number(process.env.SA_CLOCK_OFFSET_MS || 0);
const Real = Date;
function Shifted(...a) {
  if (!new.target) return new Real(Real.now() + OFF).toString();
  return a.length === 0 ? new Real(Real.now() + OFF) : new Real(...a);
}
Shifted.prototype = Real.prototype;
Shifted.now = () => Real.now() + OFF;
Shifted.parse = Real.parse;
Shifted.UTC = Real.UTC;
globalThis.Date = Shifted;
`;

/** The shim's path (a file of its own in a fresh scratch directory). */
export function clockShim(): string {
  const p = join(tmp('sa-clock-'), 'clock-shim.cjs');
  writeFileSync(p, SHIM);
  return p;
}

/** The environment that runs a child with its clock `offsetMs` off (negative: behind). */
export const skewedEnv = (offsetMs: number): NodeJS.ProcessEnv => ({ NODE_OPTIONS: `--require ${clockShim()}`, SA_CLOCK_OFFSET_MS: String(offsetMs) });
