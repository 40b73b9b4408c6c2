// cleanup: what an after hook runs, and the processes left inside a sandbox.
//
// runCleanups(list) runs every cleanup, newest first, even when one throws,
// and throws the errors together afterwards: a cleanup that fails must not
// leave a later one's server listening, which would keep the test file's
// process (and so `node --test`, and CI) waiting for ever.
//
// killProcsIn(dir) SIGKILLs every process whose working directory is dir or
// below (Claude Code and the tools it started, which may outlive their
// terminal for a moment and keep writing under the sandbox), and waits, up to
// ms, until they are gone. Linux /proc only; elsewhere it does nothing.

import fs from 'node:fs';
import path from 'node:path';

export async function runCleanups(list) {
  const errors = [];
  for (const c of list.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed: ${errors.map((e) => e.message).join('; ')}`);
}

function procsIn(dir) {
  const pids = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let cwd;
    try {
      cwd = fs.readlinkSync(`/proc/${e}/cwd`);
    } catch {
      continue; // gone, or not ours
    }
    if (cwd === dir || cwd.startsWith(prefix)) pids.push(Number(e));
  }
  return pids;
}

export async function killProcsIn(dir, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const pids = procsIn(dir);
    if (pids.length === 0) return [];
    if (Date.now() > deadline) return pids;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
