import { readFileSync } from 'node:fs';

/** The agent's version, from package.json (one source of truth; shipped beside dist/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
