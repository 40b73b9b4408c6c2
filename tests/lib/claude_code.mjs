// claude_code: running the real Claude Code against anyclaude (tests/e2e):
// paths, a fresh HOME and work dir per test, bounded child processes that are
// always killed, the scripted scenarios the backend plays, a recording proxy
// and the tmux driver for interactive sessions.

import assert from 'node:assert/strict';
import { after } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolNames, toolMessages, userTexts, assistantToolCalls, describe, startScriptedBackend } from './scripted_backend.mjs';
import { BIN, ROOT, launch, killChild } from './gateway.mjs';
import { freePort, canConnect, waitPort, sleep } from './net.mjs';
import { readBody, parseJson, listen } from './http.mjs';
import { runCleanups, killProcsIn } from './cleanup.mjs';

export { BIN, ROOT, freePort, canConnect, waitPort, sleep };
export const CLAUDE = path.resolve(
  ROOT,
  process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude',
);

// Why the suite cannot run here, or null. Under CI (CI set) a missing
// prerequisite is an error, never a skip: a green run must have run.
export function missingPrereq() {
  let why = null;
  if (!fs.existsSync(BIN)) why = `${BIN} missing: run make`;
  else if (!fs.existsSync(CLAUDE)) why = `${CLAUDE} missing: run bash scripts/deps.sh`;
  if (why && process.env.CI) throw new Error(`${why} (CI does not skip)`);
  return why;
}

// A fresh temp dir holding home/ (with ~/.claude.json marking onboarding done
// and work/ trusted), work/ and state/ (XDG_STATE_HOME, for anyclaude.log).
export function makeSandbox(name) {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `anyclaude-e2e-${name}-`)));
  const home = path.join(root, 'home');
  const work = path.join(root, 'work');
  const state = path.join(root, 'state');
  for (const d of [home, work, state]) fs.mkdirSync(d, { recursive: true });
  const claudeJson = { hasCompletedOnboarding: true, projects: { [work]: { hasTrustDialogAccepted: true } } };
  fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify(claudeJson, null, 2));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANTHROPIC_|CLAUDE_|ANYCLAUDE_|OPENAI_|MLX_LM_|LMSTUDIO_|LLAMACPP_)/.test(k)) delete env[k];
  Object.assign(env, {
    HOME: home,
    XDG_STATE_HOME: state,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    TERM: 'xterm-256color',
  });
  return {
    root,
    home,
    work,
    state,
    env,
    log: () => {
      try {
        return fs.readFileSync(path.join(state, 'anyclaude', 'anyclaude.log'), 'utf8');
      } catch {
        return '(no anyclaude.log)';
      }
    },
    // Claude Code and its own children may still be writing under
    // home/.claude after their terminal is gone: every process working in
    // the sandbox is killed first, then rmSync retries ENOTEMPTY/EBUSY.
    cleanup: async () => {
      if (process.env.E2E_KEEP) return;
      const left = await killProcsIn(root);
      try {
        fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (e) {
        e.message += left.length ? ` (processes still in the sandbox: ${left.join(' ')})` : '';
        throw e;
      }
    },
  };
}

// Children started by a test; killAll() in an after hook.
export class Children {
  constructor() {
    this.list = [];
  }
  // spawn with a hard deadline; resolves { code, signal, stdout, stderr, ms, timedOut }
  run(cmd, args, { cwd, env, timeoutMs = 120000, input } = {}) {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.detached = true;
    this.list.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child, 'SIGKILL');
    }, timeoutMs);
    return new Promise((resolve) => {
      child.once('error', (e) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), ms: Date.now() - t0, timedOut });
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
      });
    });
  }
  start(cmd, args, opts) {
    const child = spawn(cmd, args, { ...opts, detached: true });
    child.detached = true;
    this.list.push(child);
    return child;
  }
  killAll() {
    for (const c of this.list) killTree(c, 'SIGKILL');
    this.list = [];
  }
}

// What an e2e test file shares: its children (all killed after the file),
// cleanups run in reverse order after that (beforeCleanup: more to do
// first), and sandbox(t, name, why): a fresh sandbox removed after the file,
// or null with the test skipped when why() (default: missingPrereq) gives a
// reason; backend(opts): a scripted backend closed after the file.
export function e2eScope({ beforeCleanup } = {}) {
  const children = new Children();
  const cleanups = [];
  after(async () => {
    children.killAll();
    if (beforeCleanup) await beforeCleanup();
    await runCleanups(cleanups);
  });
  const sandbox = (t, name, why = missingPrereq) => {
    const missing = why();
    if (missing) {
      t.skip(missing);
      return null;
    }
    const sb = makeSandbox(name);
    cleanups.push(() => sb.cleanup());
    return sb;
  };
  const backend = async (opts) => {
    const be = await startScriptedBackend(opts);
    cleanups.push(() => be.close());
    return be;
  };
  return { children, cleanups, sandbox, backend };
}

// Kill a child started with detached: true (its own process group) by its pid.
export const killTree = killChild;

// --- scenarios -----------------------------------------------------------------

export const HELLO = 'hello from anyclaude\n';
export const DONE_TEXT = 'DONE: the file says hello from anyclaude';
export const HELLO_PROMPT = 'Create hello.txt containing the line "hello from anyclaude" with the Write tool, then show it with Bash.';

// Write hello.txt → Bash cat → DONE. Only the main loop (a request offering
// the Write and Bash tools whose user turn asks about hello.txt) is scripted.
export function helloScenario(workDir) {
  return (body) => {
    const tools = toolNames(body);
    if (!tools.includes('Write') || !tools.includes('Bash')) return undefined;
    if (!userTexts(body).some((t) => t.includes('hello.txt'))) return undefined;
    const calls = assistantToolCalls(body);
    const results = toolMessages(body);
    const bashCall = calls.find((c) => c.name === 'Bash');
    const writeCall = calls.find((c) => c.name === 'Write');
    if (bashCall && results.some((m) => m.tool_call_id === bashCall.id)) return { text: DONE_TEXT };
    if (writeCall && results.some((m) => m.tool_call_id === writeCall.id))
      return { toolCalls: [{ name: 'Bash', arguments: { command: 'cat hello.txt', description: 'show file' } }] };
    return { toolCalls: [{ name: 'Write', arguments: { file_path: path.join(workDir, 'hello.txt'), content: HELLO } }] };
  };
}

export const GREETING = 'Hello from the scripted backend';

// Any main-loop request (it offers tools) whose last user text says "say hi".
export function greetingScenario() {
  return (body) => {
    if (toolNames(body).length === 0) return undefined;
    const texts = userTexts(body);
    if (!texts.some((t) => /say hi/i.test(t))) return undefined;
    return { text: `${GREETING}. Nice to meet you.` };
  };
}

// What the backend saw, for a failure message or the notes.
export function report(be, extra = {}) {
  const lines = [`backend requests (${be.requests.length}):`, be.summary()];
  for (const [k, v] of Object.entries(extra)) lines.push(`--- ${k} ---`, String(v).slice(-6000));
  return lines.join('\n');
}

export { describe };

// Start `anyclaude serve ARGS --port P` on a probed free port (retrying if
// another process grabbed it first), as a child of `children`. Returns
// { child, port, out() }.
export async function startServe(children, args, env) {
  const p = await launch((port) => ['serve', ...args, '--port', String(port)], {
    env,
    detached: true,
    onChild: (child) => children.list.push(child),
    stepMs: 50,
    attempts: 5,
  });
  return { child: p.child, port: p.port, out: () => p.output };
}

// A pass-through HTTP proxy that records what the client (Claude Code) sent:
// { t, method, url, headers, body (parsed JSON or null), status }.
export async function startRecordingProxy(targetPort) {
  const http = await import('node:http');
  const seen = [];
  const t0 = Date.now();
  const server = http.createServer(async (req, res) => {
    const raw = await readBody(req);
    const body = parseJson(raw.toString('utf8')) ?? null;
    const rec = { t: Date.now() - t0, method: req.method, url: req.url, headers: req.headers, body, status: null, resHeaders: {} };
    seen.push(rec);
    const up = http.request(
      // Host names the gateway, as a reverse proxy's would (the gateway
      // refuses a Host that does not name its listener)
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${targetPort}` } },
      (ur) => {
        rec.status = ur.statusCode;
        rec.resHeaders = ur.headers;
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', (e) => {
      rec.status = `proxy error ${e.message}`;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
    up.end(raw);
  });
  const l = await listen(server);
  return {
    port: l.port,
    seen,
    summary: () => seen.map(describeClient).join('\n'),
    close: l.close,
  };
}

// One line per Anthropic-side request: path, model, stream, max_tokens, shape.
export function describeClient(r) {
  const b = r.body ?? {};
  const msgs = Array.isArray(b.messages) ? b.messages.length : '-';
  const tools = Array.isArray(b.tools) ? b.tools.length : 0;
  const extra = ['thinking', 'output_config', 'context_management']
    .filter((k) => b[k] !== undefined)
    .map((k) => `${k}=${JSON.stringify(b[k])}`)
    .join(' ');
  return (
    `+${(r.t / 1000).toFixed(1)}s ${r.method} ${r.url} -> ${r.status} model=${b.model} stream=${b.stream} ` +
    `max_tokens=${b.max_tokens} msgs=${msgs} tools=${tools} beta=${r.headers['anthropic-beta'] ?? '-'} ${extra}`
  );
}

// The gateway's --debug 3 trace files under stateDir, in order: [{ file, text }].
export function traceFiles(stateDir) {
  const dir = path.join(stateDir, 'anyclaude', 'traces');
  let files = [];
  try {
    files = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  return files.map((f) => ({ file: f, text: fs.readFileSync(path.join(dir, f), 'utf8') }));
}

// The client requests recorded in the gateway's --debug 3 traces (the first
// section of each trace file is the request as Claude Code sent it).
export function clientRequestsFromTraces(stateDir) {
  const out = [];
  for (const { file: f, text: txt } of traceFiles(stateDir)) {
    const m = /^--- client request[^\n]*\n([\s\S]*?)\n--- /m.exec(txt);
    if (!m) continue;
    try {
      const b = JSON.parse(m[1]);
      out.push({ file: f, model: b.model, stream: b.stream, max_tokens: b.max_tokens, msgs: b.messages?.length });
    } catch {
      out.push({ file: f, unparsed: m[1].slice(0, 80) });
    }
  }
  return out;
}

// Run fn; if it throws, print the context (backend requests, outputs, log)
// to stderr, which node --test shows, and rethrow.
export async function explainFailure(fn, context) {
  try {
    return await fn();
  } catch (e) {
    let extra = '';
    try {
      extra = context();
    } catch (e2) {
      extra = `(could not build the failure report: ${e2.message})`;
    }
    console.error(`\n===== failure context =====\n${extra}\n===== end of failure context =====`);
    throw e;
  }
}

// The hello.txt task went through, by Claude Code's JSON result, the file
// and what the backend saw; `who` names the process r is (for messages).
export function checkHelloRun(r, be, work, who) {
  assert.equal(r.timedOut, false, `${who} did not finish within 180 s`);
  assert.equal(r.code, 0, `${who} exited ${r.code} (signal ${r.signal})`);
  const file = path.join(work, 'hello.txt');
  assert.ok(fs.existsSync(file), 'hello.txt was not created');
  assert.equal(fs.readFileSync(file, 'utf8'), HELLO);
  const out = JSON.parse(r.stdout);
  assert.equal(out.is_error, false, 'result is an error');
  assert.match(out.result, /DONE/);
  assert.equal(out.result, DONE_TEXT);
  checkBackendConversation(be, work);
}

// What the backend must have seen for the hello.txt task (tests 1 and 2).
export function checkBackendConversation(be, work) {
  const chat = be.chat();
  assert.ok(chat.length >= 3, `expected at least 3 chat requests, got ${chat.length}`);

  const main = chat.filter((r) => r.scripted);
  assert.equal(main.length, 3, 'the scripted main loop should take exactly three requests');
  const last = main[main.length - 1].body;

  // Tools are OpenAI functions with JSON-schema parameters.
  for (const t of last.tools) {
    assert.equal(t.type, 'function', `tool is not an OpenAI function: ${JSON.stringify(t).slice(0, 200)}`);
    assert.equal(typeof t.function?.name, 'string');
    assert.equal(typeof t.function?.parameters, 'object', `${t.function?.name} has no parameters object`);
  }
  const write = last.tools.find((t) => t.function.name === 'Write');
  assert.ok(write, 'no Write tool offered');
  assert.ok(write.function.parameters.properties?.file_path, 'Write parameters lack file_path');
  assert.ok(write.function.parameters.properties?.content, 'Write parameters lack content');

  // No Anthropic shapes leak through.
  for (const m of last.messages) {
    assert.ok(['system', 'user', 'assistant', 'tool'].includes(m.role), `unexpected role ${m.role}`);
    if (Array.isArray(m.content))
      for (const p of m.content) assert.ok(!['tool_use', 'tool_result'].includes(p.type), `Anthropic block ${p.type} leaked`);
  }

  // Tool results come back as role "tool" messages tied to our call ids.
  const calls = assistantToolCalls(last);
  const writeCall = calls.find((c) => c.name === 'Write');
  const bashCall = calls.find((c) => c.name === 'Bash');
  assert.ok(writeCall && bashCall, `assistant tool calls not replayed: ${JSON.stringify(calls)}`);
  assert.deepEqual(JSON.parse(writeCall.args), { file_path: path.join(work, 'hello.txt'), content: HELLO });
  const tools = toolMessages(last);
  const writeResult = tools.find((m) => m.tool_call_id === writeCall.id);
  const bashResult = tools.find((m) => m.tool_call_id === bashCall.id);
  assert.ok(writeResult, `no tool message for the Write call ${writeCall.id}: ${JSON.stringify(tools)}`);
  assert.ok(bashResult, `no tool message for the Bash call ${bashCall.id}: ${JSON.stringify(tools)}`);
  const text = (m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content));
  assert.match(text(writeResult), /hello\.txt/, 'Write result does not mention the file');
  assert.match(text(bashResult), /hello from anyclaude/, 'Bash output missing from its tool message');
}

