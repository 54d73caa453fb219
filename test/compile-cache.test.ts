// bin/compile-cache.js: Node's compiled-code cache goes to a directory private to the agent's
// user, never to a shared one another user could have made (whose files the agent would run).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { tmp } from './helpers/agent.js';

const { cacheDir } = createRequire(import.meta.url)('../bin/compile-cache.js') as {
  cacheDir: (f: typeof fs, p: typeof path, env: Record<string, string | undefined>, home: string, uid: number) => { dir?: string; skip?: string };
};
const uid = process.getuid!();

describe('the compile cache directory', () => {
  it('is ~/.cache/siem-agent, made private (0700)', () => {
    const home = tmp('sa-cc-home-');
    expect(cacheDir(fs, path, {}, home, uid)).toEqual({ dir: path.join(home, '.cache', 'siem-agent') });
    expect(fs.statSync(path.join(home, '.cache', 'siem-agent')).mode & 0o777).toBe(0o700);
  });

  it('is $XDG_CACHE_HOME/siem-agent when that is an absolute path', () => {
    const home = tmp('sa-cc-home-');
    const xdg = tmp('sa-cc-xdg-');
    expect(cacheDir(fs, path, { XDG_CACHE_HOME: xdg }, home, uid)).toEqual({ dir: path.join(xdg, 'siem-agent') });
    expect(cacheDir(fs, path, { XDG_CACHE_HOME: 'relative/dir' }, home, uid)).toEqual({ dir: path.join(home, '.cache', 'siem-agent') });
  });

  it('is refused when others can write to it or to the directory above it', () => {
    const home = tmp('sa-cc-home-');
    fs.mkdirSync(path.join(home, '.cache', 'siem-agent'), { recursive: true });
    fs.chmodSync(path.join(home, '.cache', 'siem-agent'), 0o777);
    expect(cacheDir(fs, path, {}, home, uid).skip).toMatch(/siem-agent is not private to this user/);
    fs.chmodSync(path.join(home, '.cache', 'siem-agent'), 0o700);
    fs.chmodSync(path.join(home, '.cache'), 0o1777); // like /tmp
    expect(cacheDir(fs, path, {}, home, uid).skip).toMatch(/\.cache is not private to this user/);
  });

  it("is refused when it belongs to another user (as a shared /tmp directory would), or is a symbolic link", () => {
    const home = tmp('sa-cc-home-');
    fs.mkdirSync(path.join(home, '.cache', 'siem-agent'), { recursive: true, mode: 0o700 });
    // the same directories, seen by a user who does not own them
    expect(cacheDir(fs, path, {}, home, uid + 4242).skip).toMatch(/not private to this user/);
    const other = tmp('sa-cc-other-');
    fs.mkdirSync(path.join(other, '.cache'), { mode: 0o700 });
    fs.symlinkSync(path.join(home, '.cache', 'siem-agent'), path.join(other, '.cache', 'siem-agent'));
    expect(cacheDir(fs, path, {}, other, uid).skip).toMatch(/siem-agent is not private to this user/);
  });

  it('is skipped, with the reason, when it cannot be created', () => {
    const home = tmp('sa-cc-home-');
    fs.writeFileSync(path.join(home, '.cache'), 'a file where the directory would go');
    expect(cacheDir(fs, path, {}, home, uid).skip).toMatch(/^cannot create .*siem-agent \((ENOTDIR|EEXIST)\)$/);
  });
});
