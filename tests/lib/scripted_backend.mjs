// scripted_backend: an OpenAI-compatible Chat Completions server (node:http,
// no dependencies) for the end-to-end tests that put the real Claude Code in
// front of anyclaude. It plays a scenario by looking at the conversation it
// receives, answers anything it does not recognise with a short plain text,
// handles streaming (SSE ending in `data: [DONE]`) and whole answers, and
// records every request so a failing test can print them.
//
//   const be = await startScriptedBackend({ scenario });
//   be.url        // "http://127.0.0.1:PORT/v1"
//   be.requests   // [{ t, method, path, headers, body, raw, reply, scripted }]
//   be.summary()  // one line per request, for logs
//   await be.close();
//
// scenario(body, record) returns undefined (use the fallback text) or
//   { text: 'answer' } or { toolCalls: [{ name, arguments: {...} }] }.

import { serveHttp, parseJson, sendJson } from './http.mjs';
import { sseData } from './sse.mjs';

export const FALLBACK_TEXT = 'OK.';

let callSeq = 0;

// --- helpers to read an OpenAI request ------------------------------------------

export function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((p) => (typeof p === 'string' ? p : p && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

export function toolNames(body) {
  return (Array.isArray(body?.tools) ? body.tools : []).map((t) => t?.function?.name ?? t?.name).filter(Boolean);
}

export function toolMessages(body) {
  return (Array.isArray(body?.messages) ? body.messages : []).filter((m) => m?.role === 'tool');
}

export function userTexts(body) {
  return (Array.isArray(body?.messages) ? body.messages : [])
    .filter((m) => m?.role === 'user')
    .map((m) => textOf(m.content));
}

// The assistant tool calls in the conversation, in order: [{ id, name, args }]
export function assistantToolCalls(body) {
  const out = [];
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    if (m?.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    for (const c of m.tool_calls) out.push({ id: c.id, name: c.function?.name, args: c.function?.arguments });
  }
  return out;
}

// --- answers -------------------------------------------------------------------

// Usage counted the way the scripted backends do: a token per 4 bytes of
// the messages.
export function usage(body, completion) {
  const prompt = Math.max(1, Math.round(JSON.stringify(body?.messages ?? []).length / 4));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

// A chat.completion.chunk maker for one answer: chunk(delta, finish, extra).
export function chunkMaker(id, created, model) {
  return (delta, finish = null, extra = {}) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...extra,
  });
}

// The model list every scripted backend answers GET .../models with.
export function modelList(models, ownedBy, extra = {}) {
  return { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: ownedBy, ...extra })) };
}

// A scripted backend's handle: the requests, the chat ones, a summary and close.
export function handle(srv, requests, summary) {
  return {
    port: srv.port,
    url: `http://127.0.0.1:${srv.port}/v1`,
    requests,
    chat: () => requests.filter((r) => r.body && /\/chat\/completions/.test(r.path)),
    summary,
    close: srv.close,
  };
}

function streamChunks(body, answer, id, model) {
  const created = Math.floor(Date.now() / 1000);
  const base = chunkMaker(id, created, model);
  const out = [base({ role: 'assistant', content: '' })];
  if (answer.toolCalls) {
    answer.toolCalls.forEach((c, i) => {
      const args = JSON.stringify(c.arguments ?? {});
      const cut = Math.max(1, Math.floor(args.length / 2));
      out.push(base({ tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
      out.push(base({ tool_calls: [{ index: i, function: { arguments: args.slice(0, cut) } }] }));
      out.push(base({ tool_calls: [{ index: i, function: { arguments: args.slice(cut) } }] }));
    });
    out.push(base({}, 'tool_calls'));
  } else {
    const words = answer.text.split(/(?<= )/);
    for (const w of words) out.push(base({ content: w }));
    out.push(base({}, 'stop'));
  }
  if (body?.stream_options?.include_usage)
    out.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(body, 7) });
  return out;
}

function wholeAnswer(body, answer, id, model) {
  const message = { role: 'assistant', content: answer.text ?? null };
  if (answer.toolCalls)
    message.tool_calls = answer.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) },
    }));
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, finish_reason: answer.toolCalls ? 'tool_calls' : 'stop' }],
    usage: usage(body, 7),
  };
}

// --- server --------------------------------------------------------------------

// The server every scripted OpenAI backend is: it records each request ({ t,
// seq, method, path, headers, body, raw, reply, scripted }), lets other(req,
// res, rec, path) answer what it knows (true when it did), answers GET
// .../models with the model list and anything but a chat request with
// FALLBACK_TEXT as plain text. A chat request goes to chat(res, body, rec,
// answer) with the scenario's answer (the fallback text when it has none,
// rec.scripted false; its error as the text when it throws).
export async function scriptedServer({ scenario, port = 0, models, ownedBy, other = () => false, chat, summary }) {
  const requests = [];
  const t0 = Date.now();
  const srv = await serveHttp(
    (req, res, bytes) => {
      const raw = bytes.toString('utf8');
      const body = parseJson(raw) ?? null;
      const rec = { t: Date.now() - t0, method: req.method, path: req.url, headers: req.headers, body, raw, reply: null };
      requests.push(rec);
      rec.seq = requests.length;
      const path = req.url.split('?')[0];
      if (other(req, res, rec, path)) return;
      if (req.method === 'GET' && /\/models$/.test(path)) {
        rec.reply = 'models';
        return sendJson(res, 200, modelList(models, ownedBy));
      }
      if (req.method !== 'POST' || !/\/chat\/completions$/.test(path) || !body) {
        // Anything else gets a short plain text, as asked of a tolerant backend.
        rec.reply = 'plain';
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(FALLBACK_TEXT);
        return;
      }
      let answer;
      try {
        answer = scenario(body, rec);
      } catch (e) {
        answer = { text: `scenario error: ${e.message}` };
      }
      rec.scripted = !!answer;
      return chat(res, body, rec, answer ?? { text: FALLBACK_TEXT });
    },
    { port },
  );
  return handle(srv, requests, summary ?? (() => requests.map(describe).join('\n')));
}

// ownedBy: the models' owned_by; get: {path: JSON} answered to GET path (a
// server's own endpoints, e.g. LM Studio's /api/v0/models).
export async function startScriptedBackend({
  scenario = () => undefined,
  port = 0,
  models = ['scripted-model'],
  ownedBy = 'scripted',
  get = {},
} = {}) {
  return scriptedServer({
    scenario,
    port,
    models,
    ownedBy,
    other: (req, res, rec, path) => {
      if (req.method !== 'GET' || !Object.hasOwn(get, path)) return false;
      rec.reply = 'get';
      sendJson(res, 200, get[path]);
      return true;
    },
    chat: (res, body, rec, answer) => {
      if (answer.toolCalls) answer.toolCalls = answer.toolCalls.map((c) => ({ id: c.id ?? `call_${++callSeq}`, ...c }));
      rec.reply = answer.toolCalls ? `tool_calls:${answer.toolCalls.map((c) => c.name).join(',')}` : `text:${answer.text}`;

      const id = `chatcmpl-${rec.seq}`;
      const model = typeof body.model === 'string' && body.model ? body.model : models[0];
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        for (const c of streamChunks(body, answer, id, model)) res.write(sseData(c));
        res.end(sseData('[DONE]'));
      } else {
        sendJson(res, 200, wholeAnswer(body, answer, id, model));
      }
    },
  });
}

// One line per request: time, path, model, stream, max_tokens, sizes, reply.
export function describe(r) {
  const b = r.body ?? {};
  const msgs = Array.isArray(b.messages) ? b.messages : [];
  const roles = msgs.map((m) => m.role?.[0] ?? '?').join('');
  const tools = toolNames(b);
  return (
    `+${(r.t / 1000).toFixed(1)}s ${r.method} ${r.path} model=${JSON.stringify(b.model)} stream=${b.stream} ` +
    `max_tokens=${b.max_tokens ?? b.max_completion_tokens} msgs=${msgs.length}[${roles}] tools=${tools.length} ` +
    `bytes=${r.raw.length} -> ${r.reply}`
  );
}
