// Shared by the tests in tests/real: free ports, llama-server via llama.sh,
// and `anyclaude serve` started and stopped with its stderr kept.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const GATEWAY = process.env.ANYCLAUDE_BIN || path.join(ROOT, 'build/anyclaude');
const LLAMA_SH = path.join(HERE, 'llama.sh');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// `llama.sh start PORT ARGS...`: resolves { port, url } (its base URL), or
// fails the test (llama.sh cleans up after a failed start).
export async function startLlama(args = [], env = process.env) {
  const port = await freePort();
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
  port ??= await freePort();
  const hostArgs = host === '127.0.0.1' ? [] : ['--host', host];
  const child = spawn(GATEWAY, ['serve', '--port', String(port), ...hostArgs, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    log += d;
    if (process.env.ANYCLAUDE_TEST_VERBOSE) process.stderr.write(d);
  });
  const base = `http://${host}:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      assert.fail(`gateway exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) assert.fail(`gateway /health not OK after 15 s:\n${log}`);
    await sleep(100);
  }
  const exited = new Promise((r) => child.once('exit', r));
  return {
    child,
    base,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
