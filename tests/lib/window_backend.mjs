// window_backend: a scripted llama-server look-alike with a real context
// window, for the e2e tests of what Claude Code is told about the model
// (tests/e2e/window_claude_code.test.mjs). Like llama-server it
//   - answers GET /props (default_generation_settings.n_ctx per slot,
//     total_slots, model_alias), /health and /v1/models;
//   - counts every prompt the same way in /apply-template + /tokenize and in
//     /v1/chat/completions (here: one token per 4 bytes of the rendered
//     tools and messages), and refuses a prompt over the window with its
//     JSON 400 "exceed_context_size_error" even for stream: true;
//   - reports usage with prompt_tokens_details.cached_tokens and timings
//     (cache_n: the common prefix with the previous prompt, prompt_n,
//     prompt_ms, predicted_n, predicted_per_second).
// The scenario reads files one Read call at a time, answers Claude Code's
// compaction request with a <summary>, and ends with a fixed sentence.
//
//   const be = await startWindowBackend({ window: 32768, files: [...] });
//   be.url, be.requests, be.counts (per chat request: { tokens, cached, out, status }), be.close()

import { serveHttp, parseJson, sendJson } from './http.mjs';
import { sseData } from './sse.mjs';
import { textOf, chunkMaker, handle } from './scripted_backend.mjs';

export const DONE = 'ALL PARTS READ';
export const MODEL = 'window-model';

const render = (body) => JSON.stringify({ tools: body?.tools ?? [], messages: body?.messages ?? [] });
const count = (s) => Math.ceil(Buffer.byteLength(s) / 4);

export async function startWindowBackend({ window = 32768, files = [], slots = 1 } = {}) {
  const requests = [];
  const counts = [];
  const issued = new Set(); // files a Read call was sent for
  let last = ''; // the previous prompt, for the cache
  let seq = 0;

  function answerFor(body) {
    const msgs = Array.isArray(body.messages) ? body.messages : [];
    const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
    const lastText = textOf(lastUser?.content);
    if (/create a detailed summary/i.test(lastText))
      return {
        kind: 'summary',
        text:
          '<analysis>The user asked to read the part files one at a time.</analysis>\n<summary>' +
          `The user asked to read every part file with the Read tool, one at a time, and then say "${DONE}". ` +
          `Read so far: ${[...issued].map((f) => f.split('/').pop()).join(', ') || 'none'}.</summary>`,
      };
    const all = msgs.map((m) => textOf(m.content)).join('\n');
    if (!/part file/i.test(all)) return { kind: 'other', text: 'OK.' };
    const next = files.find((f) => !issued.has(f));
    if (next) {
      issued.add(next);
      return { kind: 'read', toolCalls: [{ id: `call_${++seq}`, name: 'Read', arguments: { file_path: next } }] };
    }
    return { kind: 'done', text: `${DONE}: ${files.length} files.` };
  }

  function usage(tokens, cached, out) {
    return {
      usage: {
        prompt_tokens: tokens,
        completion_tokens: out,
        total_tokens: tokens + out,
        prompt_tokens_details: { cached_tokens: cached },
      },
      timings: {
        cache_n: cached,
        prompt_n: tokens - cached,
        prompt_ms: (tokens - cached) * 0.25,
        prompt_per_second: 4000,
        predicted_n: out,
        predicted_ms: out * 20,
        predicted_per_second: 50,
      },
    };
  }

  const srv = await serveHttp((req, res, bytes) => {
    const body = parseJson(bytes.toString('utf8')) ?? null;
    const path = req.url.split('?')[0];
    const rec = { method: req.method, path, body, at: Date.now() };
    requests.push(rec);
    const json = (status, obj) => sendJson(res, status, obj);
    if (path === '/props')
      return json(200, {
        default_generation_settings: { n_ctx: window, params: { n_predict: -1 } },
        total_slots: slots,
        model_alias: MODEL,
        model_path: `/models/${MODEL}.gguf`,
      });
    if (path === '/health') return json(200, { status: 'ok' });
    if (/\/models$/.test(path))
      return json(200, { object: 'list', data: [{ id: MODEL, object: 'model', owned_by: 'llamacpp', meta: { n_ctx: window } }] });
    if (path === '/apply-template' && body) return json(200, { prompt: render(body) });
    if (path === '/tokenize' && body && typeof body.content === 'string')
      return json(200, { tokens: Array.from({ length: count(body.content) }, (_, i) => i % 1000) });
    if (!/\/chat\/completions$/.test(path) || !body) return json(404, { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });

    const prompt = render(body);
    const tokens = count(prompt);
    if (tokens > window) {
      counts.push({ tokens, cached: 0, out: 0, status: 400 });
      rec.reply = `400 (${tokens} > ${window})`;
      return json(400, {
        error: {
          code: 400,
          message: 'the request exceeds the available context size, try increasing it',
          type: 'exceed_context_size_error',
          n_prompt_tokens: tokens,
          n_ctx: window,
        },
      });
    }
    let common = 0;
    const lim = Math.min(prompt.length, last.length);
    while (common < lim && prompt.charCodeAt(common) === last.charCodeAt(common)) common++;
    const cached = Math.min(tokens - 1, Math.floor(common / 4));
    last = prompt;
    const a = answerFor(body);
    rec.reply = a.kind;
    const out = a.toolCalls ? 24 : count(a.text);
    counts.push({ tokens, cached, out, status: 200, kind: a.kind });
    const id = `chatcmpl-w${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = chunkMaker(id, created, MODEL);
    const parts = [chunk({ role: 'assistant', content: null })];
    if (a.toolCalls) {
      for (const [i, c] of a.toolCalls.entries())
        parts.push(
          chunk({ tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }] }),
        );
      parts.push(chunk({}, 'tool_calls'));
    } else {
      for (const w of a.text.match(/.{1,40}/gs)) parts.push(chunk({ content: w }));
      parts.push(chunk({}, 'stop'));
    }
    const u = usage(tokens, cached, out);
    if (!body.stream)
      return json(200, {
        id,
        object: 'chat.completion',
        created,
        model: MODEL,
        choices: [
          {
            index: 0,
            message: a.toolCalls
              ? { role: 'assistant', content: null, tool_calls: a.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) }
              : { role: 'assistant', content: a.text },
            finish_reason: a.toolCalls ? 'tool_calls' : 'stop',
          },
        ],
        ...u,
      });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const p of parts) res.write(sseData(p));
    res.write(sseData({ id, object: 'chat.completion.chunk', created, model: MODEL, choices: [], ...u }));
    res.end(sseData('[DONE]'));
  });
  const be = handle(srv, requests, () =>
    requests
      .filter((r) => /\/chat\/completions$/.test(r.path))
      .map((r, i) => `${i}: msgs=${r.body?.messages?.length} max_tokens=${r.body?.max_tokens} tokens=${count(render(r.body))} -> ${r.reply}`)
      .join('\n'),
  );
  return { ...be, counts, issued, chat: () => requests.filter((r) => /\/chat\/completions$/.test(r.path)) };
}
