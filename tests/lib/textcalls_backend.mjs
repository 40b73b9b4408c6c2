// textcalls_backend: a scripted OpenAI-compatible backend that NEVER sends
// structured `tool_calls`. Like a local model without a tool-call parser, it
// writes its calls as text content (Qwen3-Coder XML or Hermes JSON), streamed
// in small chunks that split the tags, with some prose before the call. The
// gateway's text tool-call recovery has to turn them into tool_use blocks.
//
//   const be = await startTextBackend({ scenario });
//   scenario(body) returns undefined (fallback "OK.") or { text: 'raw content' }
//   be.requests / be.chat() / be.summary() / be.close() as in scripted_backend.
//
// notesTask(work, format) is the multi-step task the tests play:
//   1 Write notes.txt   2 Read it (offset "1", limit "50" as raw text)
//   3 Edit it (replace_all "false")   4 Bash cat it (timeout "30000")
//   5 a final text answer quoting what the Bash output showed.

import path from 'node:path';
import { toolNames, toolMessages, userTexts, assistantToolCalls, textOf, usage, chunkMaker, scriptedServer, FALLBACK_TEXT } from './scripted_backend.mjs';
import { sendJson } from './http.mjs';
import { sseData } from './sse.mjs';
import { sleep as pause } from './net.mjs';

export { FALLBACK_TEXT };

// --- the task --------------------------------------------------------------------

export const NOTES_FILE = 'notes.txt';
export const NOTES_PROMPT =
  'Create notes.txt with the Write tool, read it back with Read, change "status = draft" to "status = final" ' +
  'with Edit, then show it with Bash (cat) and tell me what it says.';
// Multi-line, with double and single quotes and `<` characters (and a `</b>`).
export const NOTES_CONTENT =
  'title: "Quarterly notes" (draft)\n' +
  "owner's check: if (a < b && c <= d) { say(\"<b>ok</b>\"); }\n" +
  'status = draft\n' +
  'path = "C:\\temp" <end>\n';
export const NOTES_FINAL = NOTES_CONTENT.replace('status = draft', 'status = final');
export const FINAL_MARK = 'FINAL ANSWER: the Bash output showed';

const PROSE = {
  Write: "I'll start by creating the file.",
  Read: 'Now let me read it back to check it.',
  Edit: 'The status line needs to change; editing it now.',
  Bash: 'Let me show the result with cat.',
};

// The raw-text arguments each step writes (numbers and booleans as text:
// the tool schemas say number/integer/boolean, so the gateway must coerce).
export function notesSteps(work) {
  const file = path.join(work, NOTES_FILE);
  return [
    { name: 'Write', args: { file_path: file, content: NOTES_CONTENT } },
    { name: 'Read', args: { file_path: file, offset: '1', limit: '50' } },
    { name: 'Edit', args: { file_path: file, old_string: 'status = draft', new_string: 'status = final', replace_all: 'false' } },
    { name: 'Bash', args: { command: `cat ${file}`, timeout: '30000', description: 'Show the edited file' } },
  ];
}

// Qwen3-Coder: <tool_call><function=N><parameter=K>\nvalue\n</parameter>..; the
// parser strips one newline at each end of a value, as vLLM's does.
export function renderQwen(prose, name, args) {
  let s = `${prose}\n\n<tool_call>\n<function=${name}>\n`;
  for (const [k, v] of Object.entries(args)) s += `<parameter=${k}>\n${v}\n</parameter>\n`;
  return s + '</function>\n</tool_call>';
}

// Hermes: <tool_call>\n{"name": N, "arguments": {...}}\n</tool_call>, with
// variants: 'double' (arguments is a JSON string holding the object) and
// 'trailing-comma' (a comma before the arguments' closing brace).
export function renderHermes(prose, name, args, variant = 'plain') {
  let a = JSON.stringify(args);
  if (variant === 'double') a = JSON.stringify(a);
  if (variant === 'trailing-comma') a = a.replace(/\}$/, ',}');
  return `${prose}\n<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${a}}\n</tool_call>`;
}

const HERMES_VARIANT = { Write: 'plain', Read: 'double', Edit: 'trailing-comma', Bash: 'plain' };

export function renderCall(format, step) {
  const prose = PROSE[step.name];
  if (format === 'qwen') return renderQwen(prose, step.name, step.args);
  return renderHermes(prose, step.name, step.args, HERMES_VARIANT[step.name]);
}

// Is this the main loop of the notes task (tools offered, our prompt)?
export function isNotesRequest(body) {
  const tools = toolNames(body);
  if (!['Write', 'Read', 'Edit', 'Bash'].every((n) => tools.includes(n))) return false;
  return userTexts(body).some((t) => t.includes(NOTES_FILE) && t.includes('status = final'));
}

// The scenario: the step is the number of tool results received so far (the
// backend decides from the conversation, whatever those results say: the
// test checks them afterwards). After the four calls: the final answer with
// the Bash output.
export function notesTask(work, format) {
  const steps = notesSteps(work);
  return (body) => {
    if (!isNotesRequest(body)) return undefined;
    const results = toolMessages(body);
    if (results.length < steps.length) return { text: renderCall(format, steps[results.length]) };
    const calls = assistantToolCalls(body);
    const bash = calls.find((c) => c.name === 'Bash');
    const out = bash ? results.find((m) => m.tool_call_id === bash.id) : null;
    const shown = out ? textOf(out.content).trim() : '(no Bash result found)';
    return { text: `${FINAL_MARK}:\n${shown}\nThe status is now final.` };
  };
}

// --- server --------------------------------------------------------------------

// Deterministic small chunk sizes (2..7 bytes): the tags get split everywhere.
export function splitChunks(text, sizes = [3, 5, 2, 7, 4, 6]) {
  const out = [];
  let i = 0;
  let k = 0;
  while (i < text.length) {
    const n = sizes[k++ % sizes.length];
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

export async function startTextBackend({ scenario = () => undefined, models = ['textcalls-model'], delayMs = 1 } = {}) {
  return scriptedServer({
    scenario,
    models,
    ownedBy: 'textcalls',
    other: (req, res, rec, p) => {
      if (req.method !== 'GET' || !/\/props$/.test(p)) return false;
      rec.reply = 'props';
      sendJson(res, 200, { total_slots: 1, model_path: models[0] });
      return true;
    },
    chat: async (res, body, rec, answer) => {
      rec.text = answer.text;
      rec.reply = `text:${JSON.stringify(answer.text.length > 60 ? answer.text.slice(0, 60) + '…' : answer.text)}`;

      const id = `chatcmpl-text-${rec.seq}`;
      const model = typeof body.model === 'string' && body.model ? body.model : models[0];
      const created = Math.floor(Date.now() / 1000);
      const base = chunkMaker(id, created, model);

      if (!body.stream)
        return sendJson(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: answer.text }, finish_reason: 'stop' }],
          usage: usage(body, 7),
        });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (o) => res.write(sseData(o));
      send(base({ role: 'assistant', content: '' }));
      // Scripted answers go in small chunks with a pause between them, so the
      // gateway really receives the tags split across reads.
      const parts = rec.scripted ? splitChunks(answer.text) : [answer.text];
      for (const part of parts) {
        if (res.destroyed) return;
        send(base({ content: part }));
        if (rec.scripted && delayMs) await pause(delayMs);
      }
      send(base({}, 'stop')); // a model writing calls as text ends with "stop"
      if (body.stream_options?.include_usage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(body, parts.length) });
      res.end(sseData('[DONE]'));
    },
  });
}
