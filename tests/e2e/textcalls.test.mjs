// e2e: tool calls written as TEXT by a local model. The scripted backend
// (textcalls_backend.mjs) never sends `tool_calls`: it streams its calls as
// content in small chunks, Qwen3-Coder XML or Hermes JSON, with numbers and
// booleans as raw text. `anyclaude --mode openai` (what vLLM, SGLang and
// Ollama users pick) with default flags (text tool-call recovery is on in
// every OpenAI-family mode) must turn them into tool_use blocks with
// arguments coerced to each tool's input_schema, so the real Claude Code
// runs Write → Read → Edit → Bash and prints the final answer.
// With --tool-recovery off the same text must reach Claude Code unchanged.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toolMessages, assistantToolCalls, textOf } from '../lib/scripted_backend.mjs';
import { BIN, CLAUDE, makeSandbox, missingPrereq, report, explainFailure, e2eScope } from '../lib/claude_code.mjs';
import {
  startTextBackend, notesTask, notesSteps, renderCall, NOTES_FILE, NOTES_PROMPT, NOTES_CONTENT,
  NOTES_FINAL, FINAL_MARK,
} from '../lib/textcalls_backend.mjs';

const { children, cleanups, sandbox } = e2eScope();

const REJECTED = /InputValidationError|Invalid tool parameters|tool_use_error|is expected as|Expected (number|boolean)/i;

async function runNotes(t, name, format, extraArgs = [], mode = 'openai') {
  const sb = makeSandbox(name);
  cleanups.push(() => sb.cleanup());
  const be = await startTextBackend({ scenario: notesTask(sb.work, format) });
  cleanups.push(() => be.close());
  const args = ['--mode', mode, '--backend', be.url, '--claude', CLAUDE, '--debug', '3', ...extraArgs];
  args.push('-p', NOTES_PROMPT, '--allowedTools', 'Write,Edit,Bash,Read', '--output-format', 'json');
  const r = await children.run(BIN, args, { cwd: sb.work, env: sb.env, timeoutMs: 180_000 });
  t.diagnostic(`took ${r.ms} ms; exit ${r.code}; stderr: ${JSON.stringify(r.stderr.trim().slice(0, 300))}`);
  for (const line of be.summary().split('\n')) t.diagnostic(`backend got ${line}`);
  const context = () => {
    const tools = be
      .chat()
      .flatMap((q) => toolMessages(q.body))
      .map((m) => `${m.tool_call_id}: ${textOf(m.content).slice(0, 400)}`);
    const calls = be.chat().length ? assistantToolCalls(be.chat().at(-1).body) : [];
    return report(be, {
      'tool messages the backend received': [...new Set(tools)].join('\n'),
      'assistant tool_calls replayed (last request)': JSON.stringify(calls, null, 1),
      stdout: r.stdout,
      stderr: r.stderr,
      'anyclaude.log': sb.log(),
    });
  };
  return { sb, be, r, context };
}

// Everything the backend must have seen once the four text calls were
// recovered, coerced and run.
function checkNotesRun({ sb, be, r }) {
  assert.equal(r.timedOut, false, 'anyclaude did not finish within 180 s');
  assert.equal(r.code, 0, `anyclaude exited ${r.code} (signal ${r.signal})`);

  const main = be.chat().filter((q) => q.scripted);
  assert.ok(main.length > 0, 'the backend never got the task');
  const last = main.at(-1).body;
  const results = toolMessages(last);
  const calls = assistantToolCalls(last);

  // No tool result may be a rejection of the arguments (what Claude Code
  // answers when, say, Read's offset arrives as the string "1").
  for (const m of results) assert.doesNotMatch(textOf(m.content), REJECTED, `a tool result is an error: ${textOf(m.content).slice(0, 500)}`);

  // The recovered calls, as Claude Code replays them: the right tools in
  // order, with arguments coerced to the schema types (numbers, booleans).
  const file = path.join(sb.work, NOTES_FILE);
  assert.deepEqual(
    calls.map((c) => c.name),
    ['Write', 'Read', 'Edit', 'Bash'],
    `expected exactly Write, Read, Edit, Bash calls: ${JSON.stringify(calls)}`,
  );
  const want = [
    { file_path: file, content: NOTES_CONTENT },
    { file_path: file, offset: 1, limit: 50 },
    { file_path: file, old_string: 'status = draft', new_string: 'status = final', replace_all: false },
    { command: `cat ${file}`, timeout: 30000, description: 'Show the edited file' },
  ];
  calls.forEach((c, i) => assert.deepEqual(JSON.parse(c.args), want[i], `${c.name} arguments not recovered/coerced as expected`));

  // Every call got its own tool result.
  for (const c of calls) assert.ok(results.some((m) => m.tool_call_id === c.id), `no tool message for ${c.name} ${c.id}`);
  assert.equal(main.length, 5, 'the scripted main loop should take exactly five requests');

  // The raw call text never comes back to the backend as assistant text.
  for (const m of last.messages.filter((x) => x.role === 'assistant'))
    assert.doesNotMatch(textOf(m.content), /<tool_call|<function=|<parameter=|"arguments"/, 'raw call text replayed as assistant text');

  // Read showed the file, Bash's output reached the backend in a tool message.
  const byName = (n) => results.find((m) => m.tool_call_id === calls.find((c) => c.name === n).id);
  assert.match(textOf(byName('Read').content), /status = draft/, 'Read result does not show the file');
  const bashOut = textOf(byName('Bash').content);
  assert.match(bashOut, /status = final/, 'Bash output missing from its tool message');
  assert.ok(bashOut.includes('if (a < b && c <= d)'), `Bash output lacks the "<" line: ${bashOut}`);

  // The file holds exactly what Write + Edit should produce.
  assert.ok(fs.existsSync(file), `${NOTES_FILE} was not created`);
  assert.equal(fs.readFileSync(file, 'utf8'), NOTES_FINAL);

  // The final answer (which quotes the Bash output) is printed.
  const out = JSON.parse(r.stdout);
  assert.equal(out.is_error, false, 'result is an error');
  assert.ok(out.result.includes(FINAL_MARK), `final answer not printed: ${out.result}`);
  assert.ok(out.result.includes('status = final') && out.result.includes('say("<b>ok</b>")'), `final answer lacks the Bash output: ${out.result}`);
}

test('text tool calls, Qwen3-Coder XML: Write, Read, Edit, Bash with coerced arguments', { timeout: 240_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const run = await runNotes(t, 'textcalls-qwen', 'qwen');
  await explainFailure(async () => checkNotesRun(run), run.context);
});

test('text tool calls, Hermes JSON (double-encoded arguments, trailing comma)', { timeout: 240_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const run = await runNotes(t, 'textcalls-hermes', 'hermes');
  await explainFailure(async () => checkNotesRun(run), run.context);
});

test('--tool-recovery off: the Qwen3-Coder call text is the answer, no tool runs', { timeout: 240_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const run = await runNotes(t, 'textcalls-off', 'qwen', ['--tool-recovery', 'off']);
  const { sb, be, r } = run;
  await explainFailure(async () => {
    assert.equal(r.timedOut, false, 'anyclaude did not finish within 180 s');
    assert.equal(r.code, 0, `anyclaude exited ${r.code} (signal ${r.signal})`);
    const main = be.chat().filter((q) => q.scripted);
    assert.equal(main.length, 1, 'with recovery off the task must stop after the first answer');
    for (const q of be.chat()) assert.equal(toolMessages(q.body).length, 0, 'a tool ran');
    assert.ok(!fs.existsSync(path.join(sb.work, NOTES_FILE)), `${NOTES_FILE} was created`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.is_error, false, 'result is an error');
    const sent = renderCall('qwen', notesSteps(sb.work)[0]);
    assert.match(out.result, /<tool_call>\s*<function=Write>\s*<parameter=file_path>/);
    assert.equal(out.result.trim(), sent.trim(), 'the answer is not the raw text the backend wrote');
  }, run.context);
});
