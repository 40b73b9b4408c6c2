// gateways: the gateways bench/overhead and bench/token-latency measure,
// each started in its own process group under tmpRoot, with a private
// config, state and HOME, pointed at an OpenAI-compatible backend
// (backendV1: "http://127.0.0.1:PORT/v1"). Each resolves to
// { child, pid, stop, isDead, logFile, port, url, idle } once it answers;
// idle = memOf(pid) read before any request.
//
//   startAnyclaude(tmpRoot, backendV1, { name, bin, args })
//   startCcr(tmpRoot, backendV1)     claude-code-router 2.0.0 (../lib/ccr.mjs)

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ccrCli, startCcr as startCcrAt } from '../lib/ccr.mjs';
import { freePort, sleep, startLogged, tail, waitHttp } from '../lib/procs.mjs';
import { cleanEnv, memOf } from './procs.mjs';

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
