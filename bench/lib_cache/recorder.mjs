// recorder: a small Anthropic Messages server (node:http, no dependencies) that
// the real `claude` binary talks to while bench/cache records its traffic. It
// stores every request (method, path, headers, parsed body) and answers with a
// scripted conversation, as SSE when the request asks for stream:true:
//
//   session A ("BENCH-A" in the first user text): Write -> Bash -> Read -> Bash
//             -> Agent (a subagent, whose requests carry x-claude-code-agent-id)
//             -> final text. Six main-loop requests, one or more subagent ones.
//   session B ("BENCH-B"): Read -> final text.
//   anything else (background: titles, quota, topic...): a short text.
//
//   const rec = await startRecorder({ workDir });
//   rec.url; rec.requests; await rec.close();

import { serveHttp, parseJson, sendJson } from '../../tests/lib/http.mjs';
import { sseEvent } from '../../tests/lib/sse.mjs';
import path from 'node:path';

// --- reading a request ---------------------------------------------------------

export const toolNames = (body) => (Array.isArray(body?.tools) ? body.tools.map((t) => t?.name).filter(Boolean) : []);

function blocksOf(content) {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

export function firstUserText(body) {
  for (const m of body?.messages ?? []) {
    if (m?.role !== 'user') continue;
    const t = blocksOf(m.content)
      .filter((b) => b?.type === 'text')
      .map((b) => b.text)
      .join('\n');
    if (/BENCH-[AB]/.test(t)) return t;
  }
  for (const m of body?.messages ?? []) if (m?.role === 'user') return blocksOf(m.content).map((b) => b?.text ?? '').join('\n');
  return '';
}

export const toolResultCount = (body) =>
  (body?.messages ?? []).reduce((n, m) => n + blocksOf(m?.content).filter((b) => b?.type === 'tool_result').length, 0);

// main: the conversation loop (offers Write and Bash, no agent id);
// subagent: any request carrying x-claude-code-agent-id; background: the rest.
export function classify(headers, body) {
  if (headers['x-claude-code-agent-id']) return 'subagent';
  const tools = toolNames(body);
  if (tools.includes('Write') && tools.includes('Bash')) return 'main';
  return 'background';
}

// --- the script ------------------------------------------------------------------

function scriptFor(kind, body, workDir) {
  const notes = path.join(workDir, 'notes.txt');
  const step = toolResultCount(body);
  const user = firstUserText(body);
  if (kind === 'main' && /BENCH-A/.test(user)) {
    const agentTool = toolNames(body).includes('Agent') ? 'Agent' : 'Task';
    const steps = [
      ['I will create the notes file.', 'Write', { file_path: notes, content: 'alpha\nbeta\ngamma\n' }],
      ['Now let me check it.', 'Bash', { command: 'cat notes.txt', description: 'Show notes.txt' }],
      ['Reading it back with the Read tool.', 'Read', { file_path: notes }],
      ['Counting the lines.', 'Bash', { command: 'wc -l notes.txt', description: 'Count lines' }],
      [
        'Asking a subagent for a summary.',
        agentTool,
        {
          description: 'Summarize notes',
          prompt: 'Say in one sentence what a file holding the words alpha, beta and gamma is about. Do not use tools.',
          subagent_type: 'general-purpose',
        },
      ],
    ];
    if (step < steps.length) {
      const [text, name, input] = steps[step];
      return { text, tool: { id: `toolu_benchA${step + 1}`, name, input } };
    }
    return { text: 'Done: notes.txt holds three lines (alpha, beta, gamma), checked with Bash, Read and a subagent.' };
  }
  if (kind === 'main' && /BENCH-B/.test(user)) {
    if (step === 0) return { text: 'Let me read it.', tool: { id: 'toolu_benchB1', name: 'Read', input: { file_path: notes } } };
    return { text: 'notes.txt lists alpha, beta and gamma.' };
  }
  if (kind === 'subagent') return { text: 'The file is a short list of the first three Greek letters.' };
  return { text: 'Bench notes' };
}

// --- answering -------------------------------------------------------------------

let msgSeq = 0;

function messageOf(body, answer) {
  const content = [{ type: 'text', text: answer.text }];
  if (answer.tool) content.push({ type: 'tool_use', id: answer.tool.id, name: answer.tool.name, input: answer.tool.input });
  return {
    id: `msg_bench_${++msgSeq}`,
    type: 'message',
    role: 'assistant',
    model: body?.model ?? 'bench',
    content,
    stop_reason: answer.tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: Math.max(1, Math.round(JSON.stringify(body ?? {}).length / 4)),
      output_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  };
}

function sse(res, event, data) {
  res.write(sseEvent(event, { type: event, ...data }));
}

function streamMessage(res, msg) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  sse(res, 'message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } });
  msg.content.forEach((b, index) => {
    if (b.type === 'text') {
      sse(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const piece of b.text.split(/(?<= )/)) sse(res, 'content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    } else {
      sse(res, 'content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      sse(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
    }
    sse(res, 'content_block_stop', { index });
  });
  sse(res, 'message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: msg.usage.output_tokens } });
  sse(res, 'message_stop', {});
  res.end();
}

export async function startRecorder({ workDir, port = 0 }) {
  const requests = [];
  const t0 = Date.now();
  const srv = await serveHttp((req, res, bytes) => {
    const raw = bytes.toString('utf8');
    const body = parseJson(raw) ?? null;
    const rec = { seq: requests.length, t: Date.now() - t0, method: req.method, path: req.url, headers: { ...req.headers }, body };
    requests.push(rec);
    const p = req.url.split('?')[0];
    if (req.method === 'POST' && p === '/v1/messages/count_tokens') {
      rec.kind = 'count_tokens';
      return sendJson(res, 200, { input_tokens: Math.max(1, Math.round(raw.length / 4)) });
    }
    if (req.method !== 'POST' || p !== '/v1/messages' || !body) {
      rec.kind = 'other';
      return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `bench recorder: no ${req.method} ${p}` } });
    }
    rec.kind = classify(rec.headers, body);
    const answer = scriptFor(rec.kind, body, workDir);
    const msg = messageOf(body, answer);
    rec.reply = msg.content;
    if (body.stream) streamMessage(res, msg);
    else sendJson(res, 200, msg);
  }, { port });
  return { url: `http://127.0.0.1:${srv.port}`, requests, close: srv.close };
}
