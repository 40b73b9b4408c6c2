// replay: sends one recorded Claude Code request to an Anthropic endpoint as
// claude sent it (same path with ?beta=true, same headers including the
// session and agent ids, same body, stream:true) and consumes the whole SSE
// stream, timing it; and reads llama-server's Prometheus counters around it.

import { sleep } from '../lib/procs.mjs';
import { llamaCounters } from '../../tests/lib/metrics.mjs';
import { sseReader } from '../../tests/lib/sse.mjs';

const SKIP_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'expect']);

export function headersFor(recorded) {
  const h = {};
  for (const [k, v] of Object.entries(recorded.headers ?? {})) if (!SKIP_HEADERS.has(k.toLowerCase())) h[k] = v;
  return h;
}

// Sends rec to baseUrl; resolves { status, ms, ttfbMs, startMs, firstDeltaMs,
// deltas, stopReason, usage, error, events }. Times are from the moment the
// request is sent.
export async function sendRecorded(baseUrl, rec, { timeoutMs = 180000 } = {}) {
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  // backend: the gateway's `anyclaude-backend` answer header; stream: the
  // answer was SSE; types: its event types in order
  const out = { status: 0, ms: 0, ttfbMs: null, startMs: null, firstDeltaMs: null, deltas: 0, stopReason: null, usage: {}, error: null, events: 0, backend: null, stream: false, types: [] };
  let res;
  try {
    res = await fetch(baseUrl + rec.path, {
      method: 'POST',
      headers: headersFor(rec),
      body: JSON.stringify(rec.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    out.error = `fetch: ${e.cause?.message ?? e.message}`;
    out.ms = since();
    return out;
  }
  out.status = res.status;
  out.backend = res.headers.get('anyclaude-backend');
  out.ttfbMs = since();
  const ctype = res.headers.get('content-type') ?? '';
  if (!res.ok || !ctype.includes('text/event-stream')) {
    const text = await res.text().catch((e) => String(e));
    out.ms = since();
    if (!res.ok) out.error = `HTTP ${res.status}: ${text.slice(0, 300)}`;
    else {
      try {
        const j = JSON.parse(text);
        out.usage = j.usage ?? {};
        out.stopReason = j.stop_reason ?? null;
        out.firstDeltaMs = out.ms;
      } catch {
        out.error = `not SSE/JSON: ${text.slice(0, 200)}`;
      }
    }
    return out;
  }
  out.stream = true;
  const dec = new TextDecoder();
  const reader = sseReader();
  const onEvent = ({ event, data: j }) => {
    if (typeof j !== 'object' || j === null) return; // no data, or not JSON
    out.events++;
    const type = j.type ?? event;
    out.types.push(type);
    if (type === 'message_start') {
      out.startMs ??= since();
      Object.assign(out.usage, j.message?.usage ?? {});
    } else if (type === 'content_block_delta') {
      out.firstDeltaMs ??= since();
      out.deltas++;
    } else if (type === 'message_delta') {
      for (const [k, v] of Object.entries(j.usage ?? {})) if (v !== null && v !== undefined) out.usage[k] = v;
      out.stopReason = j.delta?.stop_reason ?? out.stopReason;
    } else if (type === 'error') {
      out.error = `stream error: ${JSON.stringify(j.error ?? j).slice(0, 300)}`;
    }
  };
  try {
    for await (const chunk of res.body) for (const ev of reader.push(dec.decode(chunk, { stream: true }))) onEvent(ev);
    for (const ev of reader.flush()) onEvent(ev);
  } catch (e) {
    out.error = `stream: ${e.message}`;
  }
  out.ms = since();
  return out;
}

// --- llama-server counters ------------------------------------------------------

export async function metrics(llamaBase) {
  const r = await fetch(`${llamaBase}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`GET ${llamaBase}/metrics: HTTP ${r.status} (start llama-server with --metrics)`);
  return llamaCounters(await r.text());
}

// Waits until llama-server has no request in flight (the counters are final).
export async function idleMetrics(llamaBase, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  let m = await metrics(llamaBase);
  while (m.requests_processing > 0 && Date.now() < until) {
    await sleep(50);
    m = await metrics(llamaBase);
  }
  return m;
}

export async function slots(llamaBase) {
  try {
    const r = await fetch(`${llamaBase}/slots`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.json() : [];
  } catch {
    return [];
  }
}

// Token count of the system+tools prefix of a request, as llama-server's chat
// template renders it: apply-template on [system, user "x"] with the tools,
// cut at the user turn, tokenize. The system text omits Claude Code's
// per-session billing-header block (it is not part of the prefix sessions share).
export async function systemToolsPrefixTokens(llamaBase, body) {
  const sys = (Array.isArray(body.system) ? body.system : [{ type: 'text', text: String(body.system ?? '') }])
    .map((b) => b?.text ?? '')
    .filter((t) => !t.startsWith('x-anthropic-billing-header:'))
    .join('\n');
  const tools = (body.tools ?? []).map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description ?? '', parameters: t.input_schema ?? { type: 'object', properties: {} } },
  }));
  const MARK = 'BENCHMARKERX';
  const r = await fetch(`${llamaBase}/apply-template`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'system', content: sys }, { role: 'user', content: MARK }], tools }),
  });
  if (!r.ok) throw new Error(`apply-template: HTTP ${r.status} ${await r.text()}`);
  const prompt = (await r.json()).prompt;
  const at = prompt.indexOf(MARK);
  const userStart = prompt.lastIndexOf('<|im_start|>user', at);
  const prefix = prompt.slice(0, userStart >= 0 ? userStart : at);
  const t = await fetch(`${llamaBase}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: prefix, add_special: false, parse_special: true }),
  });
  if (!t.ok) throw new Error(`tokenize: HTTP ${t.status}`);
  return { tokens: (await t.json()).tokens.length, chars: prefix.length, systemChars: sys.length, tools: tools.length };
}
