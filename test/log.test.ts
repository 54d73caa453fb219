// The run id goes into every log line and the heartbeat's _id, which a SIEM may deduplicate on:
// it must be a well-formed random UUID, different on every run.
import { describe, expect, it } from 'vitest';
import { runUuid } from '../src/log.js';

describe('runUuid', () => {
  it('gives version 4 UUIDs, all different', () => {
    const ids = Array.from({ length: 2000 }, () => runUuid());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // every hex digit outside the fixed version/variant bits takes many values: random, not a counter
    const firstDigits = new Set(ids.map((id) => id[0]));
    expect(firstDigits.size).toBe(16);
  });
});

describe('the JSON log masks secrets that JSON would escape', () => {
  it('a secret holding " and \\ is masked in the message, not written escaped', async () => {
    const { createLogger } = await import('../src/log.js');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'sa-log-')), 'a.log');
    const secret = 'k"ey\\se=cret';
    const log = await createLogger({ debug: false, file, format: 'json', stderr: () => undefined, verbose: false });
    log.addSecret(secret);
    log.info(`the server said ${secret}`);
    await log.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect((JSON.parse(text.trim()) as { message: string }).message).toBe('the server said ***');
  });
});
