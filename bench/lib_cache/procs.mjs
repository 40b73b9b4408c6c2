// procs: the processes bench/cache starts (llama-server via tests/real/llama.sh,
// the gateway, claude-code-router). Each start registers its stopper with
// ../lib/procs.mjs (stopAll() there), and a stopper kills only the pid it started.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, register, startLogged, tail, waitHttp } from '../lib/procs.mjs';

// llama-server through tests/real/llama.sh (which daemonizes it and writes a pid file).
export async function startLlama({ root, runDir, port, env, extraArgs = [] }) {
  const script = path.join(root, 'tests/real/llama.sh');
  const pidFile = path.join(runDir, `llama-${port}.pid`);
  const fullEnv = { ...process.env, ...env, LLAMA_RUN_DIR: runDir };
  const stop = register('llama-server', () => {
    // as `llama.sh stop PORT` does, but only for the pid our start wrote
    let pid = 0;
    try {
      pid = parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    if (pid > 0 && alive(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('llama-server')) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const until = Date.now() + 5000;
      while (alive(pid) && Date.now() < until) execFileSync('sleep', ['0.05']);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    fs.rmSync(pidFile, { force: true });
  });
  const out = await new Promise((resolve) => {
    const child = spawn('bash', [script, 'start', String(port), ...extraArgs], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let so = '';
    let se = '';
    child.stdout.on('data', (d) => (so += d));
    child.stderr.on('data', (d) => (se += d));
    child.once('close', (code) => resolve({ code, so, se }));
  });
  if (out.code !== 0) {
    stop();
    throw new Error(`llama.sh start ${port} failed (${out.code}):\n${out.se.slice(-3000)}`);
  }
  const base = out.so.trim().split('\n').pop();
  return { base, v1: `${base}/v1`, stop, logFile: path.join(runDir, `llama-${port}.log`) };
}

// The gateway, with a private config dir (no user config file) and state dir
// (its warm-start files: keyed by mode + backend URL + model).
export async function startGateway({ root, port, backend, mode = 'llamacpp', logFile, stateDir, extraArgs = [] }) {
  const bin = path.join(root, 'build/anyclaude');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|LLAMACPP_|OPENAI_|MLX_LM_|LMSTUDIO_)/.test(k)) delete env[k];
  env.XDG_CONFIG_HOME = path.join(path.dirname(logFile), 'gw-config');
  env.XDG_STATE_HOME = stateDir ?? path.join(path.dirname(logFile), 'gw-state');
  const args = ['serve', '--port', String(port), '--mode', mode, '--backend', backend, '--debug', '1', ...extraArgs];
  const p = startLogged('anyclaude', bin, args, { env, logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 15000, isDead: p.isDead, ok: () => true }))) {
    p.stop();
    throw new Error(`anyclaude serve did not come up on ${url}; log:\n${tail(logFile)}`);
  }
  // stop as a user's Ctrl-C or a service manager would: SIGTERM, then wait
  // (without blocking this process's loop: a tap in it may be carrying the
  // gateway's last requests, such as its checkpoint saves) for it to drain
  // and exit; killed after ms
  const stopGently = async (ms = 20000) => {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const until = Date.now() + ms;
    while (!p.isDead() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    p.stop();
  };
  return { url, stop: p.stop, stopGently, logFile };
}

// claude-code-router: one starter for every bench (../lib/ccr.mjs).
export { startCcr } from '../lib/ccr.mjs';

// The llama-server model and slots bench/cache and bench/pool replay on
// (tests/real/llama.sh's knobs), from the environment or these defaults.
export function llamaEnv(extra = {}) {
  return {
    LLAMA_EMBD: process.env.LLAMA_EMBD ?? '128',
    LLAMA_LAYERS: process.env.LLAMA_LAYERS ?? '2',
    LLAMA_PARALLEL: process.env.LLAMA_PARALLEL ?? '2',
    LLAMA_CTX: process.env.LLAMA_CTX ?? '32768',
    ...extra,
  };
}
