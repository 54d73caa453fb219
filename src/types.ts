/** A log record as the API returns it: a few fields always present, anything else carried as-is. */
export interface LogRecord {
  _id: string;
  created_timestamp: string;
  [key: string]: unknown;
}

export type AppName = 'Investigate' | 'Detect';
export const APPS: readonly AppName[] = ['Investigate', 'Detect'];

export const SEVERITIES: Record<AppName, readonly string[]> = {
  Investigate: ['error', 'critical', 'warning', 'informational'],
  Detect: ['high', 'medium', 'low'],
};
