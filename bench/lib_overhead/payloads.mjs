// payloads: the request bodies bench/overhead sends.
//
// captureFirstTurn(): runs the real `claude -p hi` (offline) against a tiny
// Anthropic recorder on 127.0.0.1 and keeps its main /v1/messages request
// (headers + body, as sent). Cached under $ANYCLAUDE_CACHE/bench-overhead/
// keyed by claude's version.
//
// grow(body, targetBytes): that body grown with realistic turns until its JSON
// is targetBytes long: assistant text + tool_use (Read of a repository file,
// or Bash grep over one) and the user's tool_result carrying the file contents
// as Claude Code's Read renders them (cat -n style). The last tool_result is
// cut so the size lands on the target (as a Read with a line limit would).
// Deterministic: the same tree gives the same bytes.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { claudeEnv, claudeHome, claudeVersion } from '../lib/claude.mjs';

function recorder() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      const p = req.url.split('?')[0];
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, raw });
      if (req.method !== 'POST' || p !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"type":"error","error":{"type":"not_found_error","message":"bench recorder"}}');
      }
      const ev = (e, d) => res.write(`event: ${e}\ndata: ${JSON.stringify({ type: e, ...d })}\n\n`);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      ev('message_start', {
        message: { id: 'msg_bench', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } },
      });
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello.' } });
      ev('content_block_stop', { index: 0 });
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } });
      ev('message_stop', {});
      res.end();
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, requests, url: `http://127.0.0.1:${server.address().port}` })));
}

export async function captureFirstTurn({ claude, cacheDir, log, register }) {
  const version = claudeVersion(claude);
  const dir = path.join(cacheDir, 'bench-overhead');
  const file = path.join(dir, `claude-${version}-first-turn.json`);
  if (fs.existsSync(file)) return { ...JSON.parse(fs.readFileSync(file, 'utf8')), file, fresh: false };

  log(`overhead: capturing a real Claude Code ${version} first-turn request (claude -p hi, offline)`);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-overhead-cap-')));
  const { home, work } = claudeHome(root);
  const rec = await recorder();
  const env = claudeEnv(home, rec.url);
  let child;
  const unregister = register('claude (capture)', () => child && process.kill(-child.pid, 'SIGKILL'));
  try {
    const code = await new Promise((resolve) => {
      child = spawn(claude, ['-p', 'hi'], { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const t = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 120000);
      child.once('close', (c) => {
        clearTimeout(t);
        if (c !== 0) log(`overhead: claude -p exited ${c}: ${err.slice(-1000)}`);
        resolve(c);
      });
    });
    void code;
  } finally {
    unregister();
    await new Promise((r) => rec.server.close(r));
    rec.server.closeAllConnections?.();
    fs.rmSync(root, { recursive: true, force: true });
  }
  // The main request: the biggest streamed POST /v1/messages (the one carrying the tools).
  const main = rec.requests
    .filter((r) => r.method === 'POST' && r.url.startsWith('/v1/messages') && !r.url.includes('count_tokens'))
    .sort((a, b) => b.raw.length - a.raw.length)[0];
  if (!main) throw new Error('claude sent no /v1/messages request to the recorder');
  const headers = { ...main.headers };
  for (const h of ['host', 'content-length', 'connection', 'transfer-encoding', 'accept-encoding']) delete headers[h];
  const out = { claudeVersion: version, url: main.url, headers, raw: main.raw };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file + '.tmp', JSON.stringify(out));
  fs.renameSync(file + '.tmp', file);
  return { ...out, file, fresh: true };
}

// --- growing a body with realistic turns -------------------------------------------

function sourceFiles(root) {
  const out = [];
  for (const d of ['src', 'tests/unit', 'docs', 'tests/e2e', 'scripts']) {
    const abs = path.join(root, d);
    if (!fs.existsSync(abs)) continue;
    for (const f of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, f);
      if (fs.statSync(p).isFile() && /\.(c|h|md|mjs|sh)$/.test(f)) out.push(path.join(d, f));
    }
  }
  if (fs.existsSync(path.join(root, 'README.md'))) out.push('README.md');
  return out;
}

const catN = (text) =>
  text
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(6)}\t${l}`)
    .join('\n');

function toolId(n) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  let x = n * 2654435761 + 12345;
  for (let i = 0; i < 22; i++) {
    s += abc[x % abc.length];
    x = Math.floor(x / abc.length) + (i + 1) * 7919 * (n + 1);
  }
  return `toolu_01${s}`;
}

// Returns a new body object whose JSON.stringify is exactly targetBytes long
// (or the original, if it is already that big).
export function grow(body, targetBytes, { root, workDir = '/home/user/project' }) {
  const b = structuredClone(body);
  const size = () => Buffer.byteLength(JSON.stringify(b));
  const files = sourceFiles(root);
  let n = 0;
  while (size() < targetBytes) {
    const rel = files[n % files.length];
    const abs = path.join(workDir, rel);
    const contents = fs.readFileSync(path.join(root, rel), 'utf8');
    const id = toolId(n);
    let assistantText;
    let toolUse;
    let result;
    if (n % 3 === 2) {
      assistantText = `Let me find the static helpers in ${rel}.`;
      toolUse = { type: 'tool_use', id, name: 'Bash', input: { command: `grep -n "static" ${rel}`, description: `Find static helpers in ${path.basename(rel)}` } };
      const lines = contents.split('\n');
      result = lines
        .map((l, i) => [i + 1, l])
        .filter(([, l]) => /static|return|if \(/.test(l))
        .map(([i, l]) => `${i}:${l}`)
        .join('\n');
    } else {
      assistantText = n === 0 ? `I'll start by reading ${rel}.` : `Now let me read ${rel}.`;
      toolUse = { type: 'tool_use', id, name: 'Read', input: { file_path: abs } };
      result = catN(contents);
    }
    b.messages.push({ role: 'assistant', content: [{ type: 'text', text: assistantText }, toolUse] });
    const userMsg = { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: result }] };
    b.messages.push(userMsg);
    const over = size() - targetBytes;
    if (over > 0) {
      // cut the last result (in characters, then fix up for multi-byte and JSON escapes)
      let text = result;
      let cut = Math.max(0, text.length - over);
      userMsg.content[0].content = text.slice(0, cut);
      while (size() > targetBytes && cut > 0) {
        cut -= Math.max(1, size() - targetBytes);
        userMsg.content[0].content = text.slice(0, Math.max(0, cut));
      }
      while (size() < targetBytes) userMsg.content[0].content += ' ';
    }
    n++;
  }
  return { body: b, turns: n };
}
