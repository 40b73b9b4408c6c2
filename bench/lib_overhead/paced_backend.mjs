// paced_backend: an OpenAI-compatible backend that streams like a model
// generating, for bench/token-latency. POST .../chat/completions: a role
// chunk, then TOKENS chunks GAP ms apart, each one's content the
// CLOCK_MONOTONIC time (process.hrtime.bigint(), ns, shared by every process
// on the machine) taken just before its write, followed by "|"; then a stop
// chunk, usage and [DONE]. GET /health and GET /v1/models answer small JSON.
//
//   node paced_backend.mjs --port P [--tokens 50] [--gap 20]   (prints "listening P")

import http from 'node:http';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PORT = arg('--port', 0);
const TOKENS = arg('--tokens', 50);
const GAP = arg('--gap', 20);

const id = 'chatcmpl-paced';
const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function json(res, code, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
}

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('error', () => {});
  res.on('error', () => {});
  req.on('end', () => {
    const p = req.url.split('?')[0];
    if (req.method === 'GET' && (p === '/health' || p === '/v1/health')) return json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && p.endsWith('/models')) return json(res, 200, { object: 'list', data: [{ id: 'm', object: 'model' }] });
    if (req.method !== 'POST' || !p.endsWith('/chat/completions')) return json(res, 404, { error: { message: `no ${req.method} ${p}`, type: 'not_found' } });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(chunk({ role: 'assistant', content: '' }));
    let n = 0;
    const next = () => {
      if (res.destroyed) return;
      if (n++ < TOKENS) {
        res.write(chunk({ content: `${process.hrtime.bigint()}|` }));
        setTimeout(next, GAP);
        return;
      }
      res.write(chunk({}, 'stop'));
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model: 'm', choices: [], usage: { prompt_tokens: 10, completion_tokens: TOKENS, total_tokens: 10 + TOKENS } })}\n\n`);
      res.end('data: [DONE]\n\n');
    };
    setTimeout(next, GAP);
  });
});
server.keepAliveTimeout = 120000;
server.listen(PORT, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
