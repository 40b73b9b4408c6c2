// backend: the fast scripted OpenAI-compatible backend bench/overhead measures
// against (node:http, no dependencies). POST .../chat/completions: it reads
// the whole request body (without parsing it: the point is the gateways'
// cost, not the backend's) and streams CHUNKS chat.completion.chunk events of
// a few tokens each, back to back with no delay (one res.write per event),
// then a finish_reason chunk, a usage chunk and `data: [DONE]`. Every event
// is pre-rendered at start, so a request costs the backend only its writes.
// GET /health and GET /v1/models answer small JSON.
//
//   node backend.mjs --port P [--chunks 500]      (prints "listening P")
//   import { makeBackend } from './backend.mjs'   (in-process, with onBody: capture)

import http from 'node:http';
import { fileURLToPath } from 'node:url';

const WORDS = 'the quick brown fox jumps over a lazy dog while streaming tokens from a local model to Claude Code'.split(' ');

export function renderStream(chunks, model = 'm') {
  const id = 'chatcmpl-bench0001';
  const created = 1700000000;
  const ev = (obj) => Buffer.from(`data: ${JSON.stringify(obj)}\n\n`);
  const base = (delta, finish = null) => ({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const out = [ev(base({ role: 'assistant', content: '' }))];
  for (let i = 0; i < chunks; i++) {
    // "a few tokens": three words per chunk
    const text = ` ${WORDS[(3 * i) % WORDS.length]} ${WORDS[(3 * i + 1) % WORDS.length]} ${WORDS[(3 * i + 2) % WORDS.length]}`;
    out.push(ev(base({ content: text })));
  }
  out.push(ev(base({}, 'stop')));
  out.push(ev({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 15000, completion_tokens: 3 * chunks, total_tokens: 15000 + 3 * chunks } }));
  out.push(Buffer.from('data: [DONE]\n\n'));
  return out;
}

// stream(res), when given, writes each stream instead (after the 200 and its
// headers): bench/token-latency's paced backend.
export function makeBackend({ chunks = 500, onBody = null, stream = null } = {}) {
  const events = stream ? null : renderStream(chunks);
  const json = (res, code, obj) => {
    const b = JSON.stringify(obj);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
    res.end(b);
  };
  const server = http.createServer((req, res) => {
    const parts = onBody ? [] : null;
    req.on('data', (d) => parts && parts.push(d));
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      const p = req.url.split('?')[0];
      if (req.method === 'GET' && (p === '/health' || p === '/v1/health')) return json(res, 200, { status: 'ok' });
      if (req.method === 'GET' && p.endsWith('/models')) return json(res, 200, { object: 'list', data: [{ id: 'm', object: 'model' }] });
      if (req.method !== 'POST' || !p.endsWith('/chat/completions'))
        return json(res, 404, { error: { message: `no ${req.method} ${p}`, type: 'not_found' } });
      if (parts) onBody(Buffer.concat(parts), req.headers);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (stream) return stream(res);
      for (const e of events) res.write(e);
      res.end();
    });
  });
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 130000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 0;
  return server;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (k, d) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? process.argv[i + 1] : d;
  };
  const server = makeBackend({ chunks: Number(arg('--chunks', '500')) });
  server.listen(Number(arg('--port', '0')), '127.0.0.1', 4096, () => console.log(`listening ${server.address().port}`));
  for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
}
