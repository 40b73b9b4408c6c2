// procs: process management shared by bench/cache and bench/overhead. Every
// start registers a stopper; stopAll() runs them in reverse order (also from
// SIGINT/SIGTERM/SIGHUP and on exit, see runScope), each killing only the
// process group of the pid it spawned. Also: free ports, readiness polling
// (HTTP and log lines), log tails.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, sleep } from '../../tests/lib/net.mjs';

// Ports and sleeping are the test library's (tests/lib/net.mjs).
export { freePort, sleep };

const stoppers = new Map(); // key -> sync function
let seq = 0;

export function register(name, fn) {
  const key = `${name}#${++seq}`;
  stoppers.set(key, fn);
  return () => {
    if (!stoppers.has(key)) return;
    stoppers.delete(key);
    try {
      fn();
    } catch {
      /* already gone */
    }
  };
}

// A set for children started elsewhere (e.g. loadOrRecord's claude runs):
// whatever is in it when the scope ends has its process group killed.
export function killedOnExit(name) {
  const set = new Set();
  register(name, () => {
    for (const c of set) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  return set;
}

export function stopAll() {
  for (const [key, fn] of [...stoppers].reverse()) {
    stoppers.delete(key);
    try {
      fn();
    } catch {
      /* already gone */
    }
  }
}

// A private temp dir for one benchmark run, and cleanup on every exit path:
// stopAll(), then the dir removed (kept with BENCH_KEEP=1), on exit and on
// SIGINT/SIGTERM/SIGHUP (exit status 130). cleanup() runs once; call it
// before process.exit on the normal and error paths too.
export function runScope(name, { label = name, log = console.error } = {}) {
  const tmpRoot = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `anyclaude-bench-${name}-`)));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    stopAll();
    if (!process.env.BENCH_KEEP) fs.rmSync(tmpRoot, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`\n${label}: ${sig}: stopping everything it started`);
      cleanup();
      process.exit(130);
    });
  }
  return { tmpRoot, cleanup };
}

// Alive and not a zombie.
export function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// SIGTERM the process group we created (a detached child; the pid alone if the
// group is gone), then SIGKILL both the group and the pid after a grace period.
function killGroupSync(pid, graceMs = 3000) {
  if (!pid || !alive(pid)) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) execFileSync('sleep', ['0.05']);
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export const tail = (file, n = 20) => {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
};

// The environment for a process under test: this shell's, without any
// setting that would point anyclaude, ccr or Claude Code elsewhere.
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|LLAMACPP_|OPENAI_|MLX_LM_|LMSTUDIO_|ANTHROPIC_|CLAUDE_)/.test(k)) delete env[k];
  return { ...env, ...extra };
}

// A detached child (its own process group) with stdout+stderr to a log file.
export function startLogged(name, cmd, args, { env = process.env, cwd, logFile }) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const stop = register(name, () => killGroupSync(child.pid));
  return { child, pid: child.pid, stop, isDead: () => exited, logFile };
}

export async function waitHttp(url, { timeoutMs = 30000, isDead = () => false, ok = (r) => r.ok } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead()) return false;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer().catch(() => {});
      if (ok(r)) return true;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  return false;
}

// Waits until the log file matches re (resolves the match) or timeoutMs passes (null).
export async function waitLog(file, re, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      /* not yet */
    }
    const m = re.exec(text);
    if (m) return m;
    if (Date.now() > until) return null;
    await sleep(100);
  }
}

// Run a benchmark's main(), then its cleanup: exit 0 whatever the numbers,
// 1 only when it could not run.
export function runBench(main, cleanup, log) {
  main()
    .then(() => {
      cleanup();
      process.exit(0);
    })
    .catch((e) => {
      log(`bench: cannot run: ${e.stack ?? e}`);
      cleanup();
      process.exit(1);
    });
}
