'use strict';
// Node 22.1+ can keep V8's compiled code between runs (module.enableCompileCache), and a cron job
// starts the same code every 10 minutes: an empty run on Node 24 took ~190 ms of CPU with the
// cache, 197-270 ms without (perf stat, 3 x 20 runs). Node's default place for it is
// $TMPDIR/node-compile-cache, one directory for every user of the host: whoever creates it first
// owns it and can replace the files in it, which the agent (often root, from cron) would then run
// as compiled code. So the agent keeps its cache in a directory of its own user's,
// $XDG_CACHE_HOME/siem-agent or ~/.cache/siem-agent, made 0700, and uses it only while that
// directory and the one above it belong to this user (or root) and nobody else can write to them.
// CommonJS in old syntax, like bin/siem-agent. NODE_COMPILE_CACHE, if set, still wins (Node reads
// it before this runs): that is an administrator's explicit choice.

/** Whether `st` (an lstat) is a real directory of `uid` (or, if `rootOk`, root's) that only its owner can write. */
function privateDir(st, uid, rootOk) {
  return st.isDirectory() && (st.uid === uid || (rootOk && st.uid === 0)) && (st.mode & 18) === 0; // 18 = 0o022
}

/**
 * The directory for the cache, created if need be, or { skip: reason } when it is not private.
 * `fs`, `path`, `env`, `home` and `uid` are passed in so that tests can run it as any user.
 */
exports.cacheDir = function cacheDir(fs, path, env, home, uid) {
  var parent = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  var dir = path.join(parent, 'siem-agent');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 448 }); // 0o700
  } catch (e) {
    return { skip: 'cannot create ' + dir + ' (' + (e.code || e) + ')' };
  }
  // lstat: a symbolic link put there by someone else is not followed
  if (!privateDir(fs.lstatSync(parent), uid, true)) return { skip: parent + ' is not private to this user' };
  if (!privateDir(fs.lstatSync(dir), uid, false)) return { skip: dir + ' is not private to this user' };
  return { dir: dir };
};

/** Turns the cache on where Node has it and a private directory can be had; never throws. */
exports.enableCompileCache = function enableCompileCache() {
  try {
    var mod = process.getBuiltinModule && process.getBuiltinModule('module');
    if (!mod || !mod.enableCompileCache || typeof process.getuid !== 'function') return { skip: 'not available' };
    var got = exports.cacheDir(process.getBuiltinModule('fs'), process.getBuiltinModule('path'), process.env, process.getBuiltinModule('os').homedir(), process.getuid());
    if (got.dir) mod.enableCompileCache(got.dir);
    return got;
  } catch (e) {
    return { skip: String(e) };
  }
};
