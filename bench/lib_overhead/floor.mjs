// floor: the idle memory anyclaude cannot go below with the libraries it links
// (lib_overhead/floor.c), for bench/overhead's memory table. measureFloor()
// builds floor.c twice (plain libc; linked like anyclaude) and reads each level's
// memory once it says "ready":
//   plain  a C program linked with libc only
//   linked the same, linked with -levent -lcurl -lcjson (loading them only)
//   event  + an event base
//   curl   + curl_global_init(CURL_GLOBAL_DEFAULT) + curl_multi_init():
//          libcurl's and its TLS stack's (OpenSSL) floor
// Returns { plain, linked, event, curl }, each memOf()'s reading, or null
// when floor.c cannot be built (no libcurl headers).

import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { sleep } from '../lib/procs.mjs';
import { memOf } from './procs.mjs';

async function readingOf(bin, args) {
  const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const until = Date.now() + 5000;
  while (!/ready/.test(out) && Date.now() < until && p.exitCode === null) await sleep(10);
  await sleep(300); // the same settling time as the gateway's idle reading
  const m = memOf(p.pid);
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  return /ready/.test(out) ? m : null;
}

export async function measureFloor(root, tmpRoot) {
  const src = path.join(root, 'bench/lib_overhead/floor.c');
  const cc = process.env.CC ?? 'cc';
  const linked = path.join(tmpRoot, 'floor');
  const plain = path.join(tmpRoot, 'floor-plain');
  const a = spawnSync(cc, ['-std=c11', '-O2', '-o', linked, src, '-levent', '-lcurl', '-lcjson'], { encoding: 'utf8' });
  const b = spawnSync(cc, ['-std=c11', '-O2', '-DFLOOR_PLAIN', '-o', plain, src], { encoding: 'utf8' });
  if (a.status !== 0 || b.status !== 0) return null;
  return {
    plain: await readingOf(plain, []),
    linked: await readingOf(linked, ['libc']),
    event: await readingOf(linked, ['event']),
    curl: await readingOf(linked, ['curl']),
  };
}
