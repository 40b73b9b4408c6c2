// openai_backend: a small scripted OpenAI-compatible backend for integration
// tests (node:http, no dependencies). It answers POST /v1/chat/completions the
// way a script says, GET /v1/models with a model list, and records every
// request and what became of its connection.
//
//   const be = await startBackend(script, { models: ['m1', 'm2'] });
//     (a model given as an object is listed as it is)
//   be.url          // "http://127.0.0.1:PORT/v1"
//   be.requests     // [{ method, path, headers, body, raw, closed, ... }]
//   be.script = ... // replace the script between tests
//   await be.close();
//
// A script is a reply, an array of replies (one per chat request, the last
// one repeats), or a function (record, index) => reply. Replies:
//   sse(events, opts)       streamed: events are chunk objects, raw strings
//                           (written as-is), { comment: 'text' } or DONE
//                           opts: { delayMs, gapMs, cutAfter, stallAfter,
//                                   status, headers }
//   json(body, opts)        a whole JSON answer ({ status, delayMs, headers })
//   httpError(status, body) an error status; body object → JSON, string → raw
//   stall(opts)             headers never come ({ delayMs } irrelevant)
//
// turn(desc) describes one assistant answer at a high level; chunks(desc) and
// completion(desc) give the same answer streamed and whole.
//   desc = { id, model, created,
//            reasoning: ['pieces'], reasoningField: 'reasoning_content'|'reasoning',
//            text: ['pieces'],
//            tools: [{ id, name, args: ['{"a":', '1}'] }],
//            finish: 'stop'|'length'|'tool_calls',
//            usage: { prompt_tokens, completion_tokens, cached_tokens } }

import http from 'node:http';
import { readBody, parseJson, listen } from './http.mjs';
import { sleep, waitFor } from './net.mjs';
import { sseData } from './sse.mjs';

export { waitFor };

export const DONE = Symbol('DONE');

// Keep rec.closed/closedAt (the connection carrying this request went away,
// or the client stopped listening before the reply was finished) and
// rec.finished (the reply was written whole) up to date. Shared with
// anthropic_backend.mjs.
export function watchClose(req, res, rec) {
  const markClosed = () => {
    if (!rec.closed) {
      rec.closed = true;
      rec.closedAt = Date.now();
    }
  };
  req.socket.once('close', markClosed);
  res.once('close', () => {
    if (!res.writableFinished) markClosed();
  });
  res.once('finish', () => {
    rec.finished = true;
  });
}

// What a script answers the i-th scripted request with: a script is a reply,
// an array of replies (one a request, the last one repeats) or a function
// (record, i) => script. Shared with anthropic_backend.mjs.
export function scriptReply(script, rec, i) {
  let s = script;
  if (Array.isArray(s)) s = s[Math.min(i, s.length - 1)];
  while (typeof s === 'function') s = s(rec, i);
  return s;
}

export function sse(events, opts = {}) {
  return { kind: 'sse', events, ...opts };
}
export function json(body, opts = {}) {
  return { kind: 'json', body, status: 200, ...opts };
}
export function httpError(status, body, opts = {}) {
  return { kind: 'json', body, status, ...opts };
}
export function stall(opts = {}) {
  return { kind: 'stall', ...opts };
}

const DEFAULT_ID = 'chatcmpl-fake';
const DEFAULT_MODEL = 'fake-model';
const DEFAULT_CREATED = 1700000000;

function usageObject(u) {
  if (!u) return undefined;
  const out = {
    prompt_tokens: u.prompt_tokens ?? 0,
    completion_tokens: u.completion_tokens ?? 0,
    total_tokens: (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0),
  };
  if (u.cached_tokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cached_tokens };
  return out;
}

// Streamed form of desc: a list of chat.completion.chunk objects then DONE.
// Order: role chunk, reasoning pieces, text pieces, each tool call (first
// fragment carries id/type/name, later ones only arguments), a finish chunk
// with an empty delta, and (when desc.usage) a usage chunk with no choices,
// as OpenAI does with stream_options.include_usage.
export function chunks(desc) {
  const id = desc.id ?? DEFAULT_ID;
  const model = desc.model ?? DEFAULT_MODEL;
  const created = desc.created ?? DEFAULT_CREATED;
  const field = desc.reasoningField ?? 'reasoning_content';
  const mk = (delta, finish = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const out = [mk({ role: 'assistant', content: '' })];
  for (const r of desc.reasoning ?? []) out.push(mk({ [field]: r }));
  for (const t of desc.text ?? []) out.push(mk({ content: t }));
  (desc.tools ?? []).forEach((tc, index) => {
    const first = { index, type: 'function', function: { name: tc.name, arguments: '' } };
    if (tc.id !== undefined) first.id = tc.id;
    out.push(mk({ tool_calls: [first] }));
    for (const a of tc.args ?? []) out.push(mk({ tool_calls: [{ index, function: { arguments: a } }] }));
  });
  out.push(mk({}, desc.finish ?? 'stop'));
  if (desc.usage) {
    out.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageObject(desc.usage) });
  }
  out.push(DONE);
  return out;
}

// Whole form of desc: one chat.completion object.
export function completion(desc) {
  const field = desc.reasoningField ?? 'reasoning_content';
  const text = (desc.text ?? []).join('');
  const message = { role: 'assistant', content: desc.text?.length ? text : null };
  if (desc.reasoning?.length) message[field] = desc.reasoning.join('');
  if (desc.tools?.length) {
    message.tool_calls = desc.tools.map((tc) => {
      const o = { type: 'function', function: { name: tc.name, arguments: (tc.args ?? []).join('') } };
      if (tc.id !== undefined) o.id = tc.id;
      return o;
    });
  }
  const out = {
    id: desc.id ?? DEFAULT_ID,
    object: 'chat.completion',
    created: desc.created ?? DEFAULT_CREATED,
    model: desc.model ?? DEFAULT_MODEL,
    choices: [{ index: 0, message, logprobs: null, finish_reason: desc.finish ?? 'stop' }],
  };
  if (desc.usage) out.usage = usageObject(desc.usage);
  return out;
}

// The reply for a turn, streamed or whole according to the request's "stream".
export function turn(desc, opts = {}) {
  return (rec) => (rec.body?.stream ? sse(chunks(desc), opts) : json(completion(desc), opts));
}

function encodeEvent(ev) {
  if (ev === DONE) return sseData('[DONE]');
  if (typeof ev === 'string') return ev;
  if (ev && typeof ev.comment === 'string') return `: ${ev.comment}\n\n`;
  return sseData(ev);
}

export async function startBackend(script, options = {}) {
  const models = options.models ?? ['fake-model'];
  const requests = [];
  let sockets = new Set();
  let connections = 0;
  let chatIndex = 0;

  const be = {
    script,
    requests,
    url: '',
    port: 0,
    get connections() {
      return connections;
    },
    get openSockets() {
      return sockets.size;
    },
    chatRequests() {
      return requests.filter((r) => r.path.startsWith('/v1/chat/completions'));
    },
    lastChat() {
      return this.chatRequests().at(-1);
    },
    reset() {
      requests.length = 0;
      chatIndex = 0;
    },
  };

  function pickReply(rec) {
    return scriptReply(be.script, rec, chatIndex++) ?? json(completion({ text: ['ok'] }));
  }

  async function serveChat(rec, req, res) {
    const reply = pickReply(rec);
    rec.reply = reply.kind;
    if (reply.kind === 'stall') return; // never answer; the client must give up
    if (reply.delayMs) await sleep(reply.delayMs);
    if (rec.closed) return;
    if (reply.kind === 'json') {
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      rec.firstByteAt = Date.now();
      res.writeHead(reply.status, {
        'content-type': typeof reply.body === 'string' ? 'text/plain' : 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(reply.headers ?? {}),
      });
      res.end(body);
      return;
    }
    // sse
    rec.firstByteAt = Date.now();
    res.writeHead(reply.status ?? 200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      ...(reply.headers ?? {}),
    });
    res.flushHeaders();
    const events = reply.events;
    for (let i = 0; i < events.length; i++) {
      if (rec.closed) return;
      if (reply.cutAfter !== undefined && i === reply.cutAfter) {
        rec.cut = true;
        res.socket?.destroy();
        return;
      }
      if (reply.stallAfter !== undefined && i === reply.stallAfter) {
        rec.stalled = true;
        return; // hold the connection open forever
      }
      // Wait until the bytes are handed to the kernel, so that a cut or a
      // stall that follows really comes after them.
      await new Promise((resolve) => res.write(encodeEvent(events[i]), () => resolve()));
      rec.eventsSent = i + 1;
      if (reply.gapMs) await sleep(reply.gapMs);
    }
    if (reply.cutAfter !== undefined && reply.cutAfter >= events.length) {
      rec.cut = true;
      res.socket?.destroy();
      return;
    }
    if (reply.stallAfter !== undefined && reply.stallAfter >= events.length) {
      rec.stalled = true;
      return;
    }
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    const rec = {
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: undefined,
      raw: '',
      receivedAt: Date.now(),
      firstByteAt: 0,
      closed: false,
      closedAt: 0,
      finished: false,
    };
    requests.push(rec);
    watchClose(req, res, rec);
    rec.raw = (await readBody(req)).toString('utf8');
    rec.body = parseJson(rec.raw);
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      const body = JSON.stringify({
        object: 'list',
        data: models.map((m, i) =>
          typeof m === 'string' ? { id: m, object: 'model', created: DEFAULT_CREATED + i, owned_by: 'fake' } : m,
        ),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      serveChat(rec, req, res).catch((e) => {
        rec.serverError = String(e);
        res.destroy();
      });
      return;
    }
    const body = JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'not_found' } });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 60000;

  const l = await listen(server, { port: options.port ?? 0 });
  sockets = l.sockets;
  be.port = l.port;
  be.url = `http://127.0.0.1:${be.port}/v1`;
  be.close = l.close;
  return be;
}
