// procs: memory, CPU and fd readings from /proc for the processes bench/overhead
// starts (process management itself is in ../lib/procs.mjs).

import fs from 'node:fs';

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
