// llama: what the tests in tests/real share: llama-server via
// tests/real/llama.sh, and `anyclaude serve` started and stopped with its
// stderr kept.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BIN, ROOT, launch } from './gateway.mjs';
import { freePort, sleep } from './net.mjs';

export { ROOT, freePort, sleep };
export const GATEWAY = BIN;
const LLAMA_SH = path.join(ROOT, 'tests/real/llama.sh');

// `llama.sh start PORT ARGS...`: resolves { port, url } (its base URL), or
// fails the test (llama.sh cleans up after a failed start). port: a given
// one (a restart on the same address), else a free one.
export async function startLlama(args = [], env = process.env, port = 0) {
  port = port || (await freePort());
  const r = spawnSync('bash', [LLAMA_SH, 'start', String(port), ...args], {
    encoding: 'utf8',
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) assert.fail(`llama.sh start ${port} failed (status ${r.status})`);
  return { port, url: r.stdout.trim().split('\n').pop() };
}

export function stopLlama(port, env = process.env) {
  spawnSync('bash', [LLAMA_SH, 'stop', String(port)], { env, stdio: 'inherit' });
}

// `anyclaude serve --port P ARGS...` until /health answers. Returns
// { child, base, log(), stop() } (stop: SIGTERM, SIGKILL after 5 s).
// opts.host: another loopback address to listen on (--host), opts.port a
// given port.
export async function startGateway(args, env, { host = '127.0.0.1', port } = {}) {
  const hostArgs = host === '127.0.0.1' ? [] : ['--host', host];
  const base = (p) => `http://${host}:${p}`;
  let p;
  try {
    p = await launch((pt) => ['serve', '--port', String(pt), ...hostArgs, ...args], {
      env,
      port,
      stepMs: 100,
      ready: async (q) => {
        try {
          return (await fetch(`${base(q.port)}/health`)).ok;
        } catch {
          return false; // not listening yet
        }
      },
    });
  } catch (e) {
    assert.fail(e.message);
  }
  const { child } = p;
  return {
    child,
    base: base(p.port),
    log: () => p.stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await p.stop(5000);
    },
  };
}
