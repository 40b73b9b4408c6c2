// gateways: the gateways bench/overhead and bench/token-latency measure,
// each started in its own process group under tmpRoot, with a private
// config, state and HOME, pointed at an OpenAI-compatible backend
// (backendV1: "http://127.0.0.1:PORT/v1"). Each resolves to
// { child, pid, stop, isDead, logFile, port, url, idle } once it answers;
// idle = memOf(pid) read before any request.
//
//   startAnyclaude(tmpRoot, backendV1, { name, bin, args })
//   startCcr(tmpRoot, backendV1)     claude-code-router 2.0.0 (../lib/ccr.mjs)
//   startRelay(tmpRoot, bePort)      relay.c: bytes forwarded, nothing else
//   buildC(tmpRoot, src)             a bench C program built once per source

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ccrCli, startCcr as startCcrAt } from '../lib/ccr.mjs';
import { cleanEnv, freePort, sleep, startLogged, tail, waitHttp } from '../lib/procs.mjs';
import { memOf } from './procs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const GATEWAY = path.resolve(ROOT, process.env.ANYCLAUDE_BIN ?? 'build/anyclaude');
export const CCR_CLI = ccrCli(ROOT);

// anyclaude serve; idle RSS read once its "listening" line is out.
export async function startAnyclaude(tmpRoot, backendV1, { name = 'anyclaude', bin = GATEWAY, args = [] } = {}) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmpRoot, `${name}-`));
  const logFile = path.join(dir, 'anyclaude.log');
  const env = cleanEnv({ XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_CACHE_HOME: path.join(dir, 'cache') });
  const p = startLogged(name, bin, ['serve', '--port', String(port), '--mode', 'openai', '--backend', backendV1, '--model', 'm', ...args], { env, logFile });
  const until = Date.now() + 10000;
  while (Date.now() < until && !p.isDead() && !/listening on/.test(fs.readFileSync(logFile, 'utf8'))) await sleep(10);
  await sleep(300);
  const idle = memOf(p.pid);
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 10000, isDead: p.isDead, ok: () => true }))) throw new Error(`${name} did not come up:\n${tail(logFile)}`);
  return { ...p, port, url, idle, logFile };
}

// claude-code-router (../lib/ccr.mjs) serving model "m"; idle RSS read
// 300 ms after it answers.
export async function startCcr(tmpRoot, backendV1) {
  const home = fs.mkdtempSync(path.join(tmpRoot, 'ccr-home-'));
  const p = await startCcrAt({ root: ROOT, port: await freePort(), backendV1, home, logFile: path.join(home, 'ccr.log'), model: 'm' });
  await sleep(300);
  return { ...p, idle: memOf(p.pid) };
}

// Build bench/lib_overhead/<src> (-O2) into tmpRoot, named by its content's
// hash; returns the binary's path.
export function buildC(tmpRoot, src) {
  const file = path.join(ROOT, 'bench/lib_overhead', src);
  const h = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 12);
  const bin = path.join(tmpRoot, `${path.basename(src, '.c')}-${h}`);
  if (fs.existsSync(bin)) return bin;
  const cc = spawnSync(process.env.CC ?? 'cc', ['-std=c11', '-O2', '-o', bin, file], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build ${file}:\n${cc.stderr}`);
  return bin;
}

// relay.c in front of the backend on bePort: the bytes forwarded both ways
// and nothing else, the floor of any gateway. Ready when it prints "listening".
export async function startRelay(tmpRoot, bePort) {
  const port = await freePort();
  const logFile = path.join(tmpRoot, 'relay.log');
  const p = startLogged('relay', buildC(tmpRoot, 'relay.c'), [String(port), String(bePort)], { logFile });
  const until = Date.now() + 10000;
  while (Date.now() < until && !p.isDead() && !/listening/.test(fs.readFileSync(logFile, 'utf8'))) await sleep(10);
  if (p.isDead()) throw new Error(`relay did not start:\n${tail(logFile)}`);
  return { ...p, port, url: `http://127.0.0.1:${port}`, idle: memOf(p.pid) };
}
