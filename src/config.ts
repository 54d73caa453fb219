import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';

export interface Config {
  path: string;
  apiServer: string; // normalised: always ends with '/'
  tenant: string;
  keyId: string;
  keySecret: string;
  userId?: string;
}

/** Reads config.json as the vendor's console downloads it. Returns warnings instead of printing them. */
export function loadConfig(path: string): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code ?? 'unreadable';
    throw new ConfigError(`config ${path}: cannot read (${why}); pass the API key file with --config PATH`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // JSON.parse messages carry a position but never the secret's value beyond a token
    const pos = /position (\d+)/.exec(String((e as Error).message))?.[1];
    throw new ConfigError(`config ${path}: not valid JSON${pos ? ` (at character ${pos})` : ''}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config ${path}: expected a JSON object with api_server, tenant, key_id, key_secret`);
  }
  const obj = raw as Record<string, unknown>;
  const str = (key: string, value: unknown = obj[key]): string => {
    if (value === undefined || value === null) throw new ConfigError(`config ${path}: missing key "${key}"`);
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError(`config ${path}: key "${key}" must be a non-empty string`);
    }
    return value.trim();
  };
  const apiServer = str('api_server');
  let url: URL;
  try {
    url = new URL(apiServer);
  } catch {
    throw new ConfigError(`config ${path}: key "api_server" is not a URL (expected e.g. https://api-vip.elastica.net/)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`config ${path}: key "api_server" must be an http or https URL`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`config ${path}: key "api_server" must not hold credentials, a query or a fragment`);
  }
  const tenant = str('tenant');
  if (/[/?#\s]/.test(tenant)) throw new ConfigError(`config ${path}: key "tenant" must not contain /, ?, # or spaces`);
  const secretKey = obj.key_secret !== undefined ? 'key_secret' : obj.ey_secret !== undefined ? 'ey_secret' : 'key_secret';
  const config: Config = {
    path,
    apiServer: url.href.endsWith('/') ? url.href : `${url.href}/`,
    tenant,
    keyId: str('key_id'),
    keySecret: str(secretKey),
  };
  if (obj.user_id !== undefined && obj.user_id !== null) config.userId = String(obj.user_id);
  try {
    const mode = statSync(path).mode;
    if (mode & 0o077) {
      warnings.push(`config ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
    }
  } catch {
    /* already read it; a stat failure here is not worth failing the run */
  }
  return { config, warnings };
}
