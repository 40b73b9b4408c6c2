// procs: the processes bench/overhead starts (the scripted backend, anyclaude
// serve, claude-code-router) and their cleanup. Every start registers a
// stopper; stopAll() runs them in reverse order (also from SIGINT/SIGTERM and
// on exit), each killing only the process group of the pid it spawned.
// Also: free ports, readiness polling, and memory/fd readings from /proc.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// SIGTERM the process group we created (a detached child), SIGKILL after a grace period.
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

// --- /proc readings -------------------------------------------------------------

function statusKb(pid, key) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// Every live pid in process group pgid (the gateway and anything it forked).
export function groupPids(pgid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      /* raced */
    }
  }
  return out;
}

function rollupKb(pid) {
  const out = { pssKb: 0, privKb: 0 };
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const get = (k) => Number(t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
    out.pssKb = get('Pss');
    out.privKb = get('Private_Clean') + get('Private_Dirty');
  } catch {
    /* gone */
  }
  return out;
}

// { rssKb, hwmKb, pssKb, privKb, pids } summed over the process group (one
// process for both gateways, normally). RSS counts shared library pages in
// full; PSS shares them out; private is what only this process holds.
export function memOf(pgid) {
  const pids = groupPids(pgid);
  let rssKb = 0;
  let hwmKb = 0;
  let pssKb = 0;
  let privKb = 0;
  for (const p of pids) {
    rssKb += statusKb(p, 'VmRSS') ?? 0;
    hwmKb += statusKb(p, 'VmHWM') ?? 0;
    const r = rollupKb(p);
    pssKb += r.pssKb;
    privKb += r.privKb;
  }
  return { rssKb, hwmKb, pssKb, privKb, pids };
}

// CPU time (ns, user+system, every thread) of the process group, from schedstat.
export function cpuNsOf(pgid) {
  let ns = 0;
  for (const p of groupPids(pgid)) {
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        try {
          ns += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          /* thread gone */
        }
      }
    } catch {
      /* gone */
    }
  }
  return ns;
}

export function openFilesLimit(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').match(/^Max open files\s+(\S+)\s+(\S+)/m);
    return m ? `${m[1]}/${m[2]}` : '?';
  } catch {
    return '?';
  }
}

export function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

export const mkdirp = (d) => (fs.mkdirSync(d, { recursive: true }), d);
export const join = path.join;
