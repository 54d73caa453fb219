import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Runs fn with a private tmpfs mounted at dir/name (read-only or small: even root is refused). */
export async function withTmpfs(dir: string, name: string, options: string, fn: (mnt: string) => Promise<void>): Promise<void> {
  const mnt = join(dir, name);
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mnt]);
  try {
    await fn(mnt);
  } finally {
    execFileSync('umount', [mnt]);
  }
}
