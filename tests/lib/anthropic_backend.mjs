// anthropic_backend: a small scripted upstream that speaks the Anthropic
// Messages API (node:http or node:https, no dependencies), for testing the
// pass-through modes. It records every request exactly as it arrived and
// answers the way a script says, writing the exact bytes it is given.
//
//   const be = await startAnthropicBackend(script, { tls: { key, cert } });
//   be.url          // "https://127.0.0.1:PORT" (the API root, no /v1)
//   be.requests     // [{ method, url, path, query, headers, rawHeaders,
//                   //    body (Buffer), text, json, sent (Buffer),
//                   //    closed, finished, cut, stalled, reply, ... }]
//   be.script = ... // replace the script between tests
//   await be.close();
//
// The script answers every request except GET /v1/models (answered with an
// Anthropic model list built from options.models). A script is a reply, an
// array of replies (one per scripted request, the last one repeats), or a
// function (record, index) => reply. Replies:
//   sseBytes(chunks, opts)   streamed: chunks are strings or Buffers written
//                            exactly as given, one write each.
//                            opts: { status, headers, delayMs (before the
//                            headers), gapMs (number, or array: gap after
//                            chunk i), cutAfter (destroy the connection once
//                            that many chunks are out), stallAfter (send that
//                            many chunks, then hold the connection open) }
//   jsonReply(body, opts)    a whole answer: body string (written as is) or
//                            object (JSON.stringify). opts: { status, headers,
//                            delayMs, gzip (compress when the request's
//                            accept-encoding allows gzip, as the real API's
//                            front end does) }
//   apiError(status, type, message, opts)  an Anthropic error body
//                            {"type":"error","error":{type,message},"request_id"}
//   stall()                  headers never come
//
// Helpers for realistic streams: sseEvent(name, data) formats one event the
// way the API does; splitBytes(bytes, sizes) cuts a byte string into chunks
// of the given sizes (cycled), splitting UTF-8 sequences when it falls so.

import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { watchClose, scriptReply } from './openai_backend.mjs';
import { readBody, parseJson, listen } from './http.mjs';
import { sleep } from './net.mjs';
import { sseEvent } from './sse.mjs';

export { sseEvent };

export function sseBytes(chunks, opts = {}) {
  return { kind: 'sse', chunks, ...opts };
}
export function jsonReply(body, opts = {}) {
  return { kind: 'json', body, status: 200, ...opts };
}
export function apiError(status, type, message, opts = {}) {
  const body = JSON.stringify({ type: 'error', error: { type, message }, request_id: opts.requestId ?? 'req_011CTestError' });
  return { kind: 'json', body, status, ...opts };
}
export function stall(opts = {}) {
  return { kind: 'stall', ...opts };
}

// The events of a complete Anthropic stream with one text block:
// message_start (with usage), content_block_start, a ping (`ping`: its data,
// an object or raw text), one text_delta per piece, content_block_stop,
// message_delta (stop reason, output_tokens) and message_stop.
export function textStreamEvents(pieces, { id, model, usage, stop = 'end_turn', outputTokens, ping = { type: 'ping' } }) {
  return [
    sseEvent('message_start', {
      type: 'message_start',
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage },
    }),
    sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    sseEvent('ping', ping),
    ...pieces.map((text) => sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
    sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
    sseEvent('message_stop', { type: 'message_stop' }),
  ];
}

// Cut `bytes` (string → UTF-8, or Buffer) into Buffers whose sizes cycle
// through `sizes`.
export function splitBytes(bytes, sizes) {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8');
  const out = [];
  let off = 0;
  for (let i = 0; off < b.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]);
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

export const DEFAULT_MODELS = ['claude-sonnet-4-6', 'claude-haiku-4-5-20251001'];

export async function startAnthropicBackend(script, options = {}) {
  const models = options.models ?? DEFAULT_MODELS;
  const requests = [];
  let sockets = new Set();
  let connections = 0;
  let scriptIndex = 0;
  const scheme = options.tls ? 'https' : 'http';

  const be = {
    script,
    requests,
    url: '',
    port: 0,
    tlsErrors: [], // TLS handshakes that failed (e.g. the client did not trust us)
    get connections() {
      return connections;
    },
    get openSockets() {
      return sockets.size;
    },
    // Requests other than GET /v1/models.
    scripted() {
      return requests.filter((r) => r.scripted);
    },
    last() {
      return this.scripted().at(-1);
    },
    reset() {
      requests.length = 0;
      scriptIndex = 0;
      be.tlsErrors.length = 0;
    },
  };

  function pickReply(rec) {
    return scriptReply(be.script, rec, scriptIndex++) ?? apiError(500, 'api_error', 'anthropic_backend: no script');
  }

  // Write and wait until the bytes are handed to the kernel, so that a cut
  // or a stall that follows really comes after them.
  function write(res, rec, data) {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    return new Promise((resolve) =>
      res.write(b, () => {
        rec.sentParts.push(b);
        resolve();
      }),
    );
  }

  async function serve(rec, req, res) {
    const reply = pickReply(rec);
    rec.reply = reply.kind;
    if (reply.kind === 'stall') {
      rec.stalled = true;
      return;
    }
    if (reply.delayMs) await sleep(reply.delayMs);
    if (rec.closed) return;
    if (reply.kind === 'json') {
      let body = Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body), 'utf8');
      rec.plainBody = body;
      const headers = {
        'content-type': 'application/json',
        'request-id': 'req_011CTestJson',
        ...(reply.headers ?? {}),
      };
      if (reply.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        body = zlib.gzipSync(body);
        headers['content-encoding'] = 'gzip';
        rec.gzipped = true;
      }
      headers['content-length'] = body.length;
      rec.status = reply.status;
      rec.firstByteAt = Date.now();
      res.writeHead(reply.status, headers);
      await new Promise((resolve) => res.end(body, resolve));
      rec.sentParts.push(body);
      return;
    }
    // sse
    rec.status = reply.status ?? 200;
    rec.firstByteAt = Date.now();
    res.writeHead(rec.status, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': 'req_011CTestStream',
      ...(reply.headers ?? {}),
    });
    res.flushHeaders();
    const chunks = reply.chunks;
    const gapAfter = (i) => (Array.isArray(reply.gapMs) ? reply.gapMs[i % reply.gapMs.length] : reply.gapMs) ?? 0;
    for (let i = 0; i <= chunks.length; i++) {
      if (rec.closed) return;
      if (reply.cutAfter === i) {
        rec.cut = true;
        res.socket?.destroy();
        return;
      }
      if (reply.stallAfter === i) {
        rec.stalled = true;
        return; // hold the connection open until the peer goes
      }
      if (i === chunks.length) break;
      await write(res, rec, chunks[i]);
      rec.chunksSent = i + 1;
      const g = gapAfter(i);
      if (g) await sleep(g);
    }
    await new Promise((resolve) => res.end(resolve));
  }

  const handler = async (req, res) => {
    const q = req.url.indexOf('?');
    const rec = {
      method: req.method,
      url: req.url, // path and query as sent
      path: q < 0 ? req.url : req.url.slice(0, q),
      query: q < 0 ? '' : req.url.slice(q),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      httpVersion: req.httpVersion,
      body: Buffer.alloc(0),
      text: '',
      json: undefined,
      scripted: false,
      sentParts: [],
      get sent() {
        return Buffer.concat(this.sentParts);
      },
      receivedAt: Date.now(),
      firstByteAt: 0,
      closed: false,
      closedAt: 0,
      finished: false,
      cut: false,
      stalled: false,
    };
    requests.push(rec);
    watchClose(req, res, rec);
    rec.body = await readBody(req);
    rec.text = rec.body.toString('utf8');
    rec.json = parseJson(rec.text);
    if (req.method === 'GET' && rec.path === '/v1/models') {
      const data = models.map((id, i) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: new Date(Date.UTC(2025, 8, 29 - i)).toISOString(),
      }));
      const body = JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'request-id': 'req_011CTestModels' });
      res.end(body);
      return;
    }
    rec.scripted = true;
    serve(rec, req, res).catch((e) => {
      rec.serverError = String(e);
      res.destroy();
    });
  };

  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
    : http.createServer(handler);
  server.on(options.tls ? 'secureConnection' : 'connection', () => connections++);
  if (options.tls) server.on('tlsClientError', (err) => be.tlsErrors.push(String(err?.code ?? err)));
  server.keepAliveTimeout = 60000;

  const l = await listen(server, { port: options.port ?? 0 });
  sockets = l.sockets;
  if (options.tls)
    server.on('secureConnection', (sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
    });
  be.port = l.port;
  be.url = `${scheme}://127.0.0.1:${be.port}`;
  be.close = l.close;
  return be;
}
