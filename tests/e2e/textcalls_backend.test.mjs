// The text-calls backend on its own (no gateway, no Claude Code): it never
// sends tool_calls, streams the scripted text in small chunks that split the
// tags, and picks each step from the tool results in the conversation.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTextBackend, notesTask, notesSteps, renderCall, NOTES_PROMPT, NOTES_CONTENT, FINAL_MARK } from '../lib/textcalls_backend.mjs';

const closers = [];
after(async () => {
  for (const c of closers) await c();
});

const WORK = '/tmp/textcalls-work';
const tools = ['Write', 'Read', 'Edit', 'Bash', 'Glob'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } }));

// The conversation after n steps, as the gateway would send it.
function conversation(n) {
  const messages = [{ role: 'system', content: 'sys' }, { role: 'user', content: NOTES_PROMPT }];
  notesSteps(WORK)
    .slice(0, n)
    .forEach((s, i) => {
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `c${i}`, type: 'function', function: { name: s.name, arguments: '{}' } }] });
      messages.push({ role: 'tool', tool_call_id: `c${i}`, content: s.name === 'Bash' ? NOTES_CONTENT : 'ok' });
    });
  return { model: 'm', stream: true, stream_options: { include_usage: true }, tools, messages };
}

async function stream(url, body) {
  const res = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const raw = await res.text();
  const events = raw
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)));
  assert.ok(raw.trimEnd().endsWith('data: [DONE]'));
  const deltas = events.flatMap((e) => e.choices.map((c) => c.delta));
  for (const d of deltas) assert.equal(d.tool_calls, undefined, 'the backend sent tool_calls');
  const content = deltas.map((d) => d.content ?? '').filter(Boolean);
  const finish = events.flatMap((e) => e.choices.map((c) => c.finish_reason)).filter(Boolean);
  return { content, text: content.join(''), finish, usage: events.find((e) => e.usage)?.usage };
}

for (const format of ['qwen', 'hermes']) {
  test(`text backend (${format}): steps, chunking, final answer`, async () => {
    const be = await startTextBackend({ scenario: notesTask(WORK, format) });
    closers.push(() => be.close());
    const steps = notesSteps(WORK);
    for (let i = 0; i < steps.length; i++) {
      const s = await stream(be.url, conversation(i));
      assert.equal(s.text, renderCall(format, steps[i]));
      assert.ok(s.text.includes('<tool_call>'));
      // split mid-tag: no single chunk holds a whole "<tool_call>"
      assert.ok(!s.content.some((c) => c.includes('<tool_call>')), 'a chunk holds a whole tag');
      assert.ok(s.content.length > 20 && Math.max(...s.content.map((c) => c.length)) <= 7);
      assert.deepEqual(s.finish, ['stop']);
      assert.ok(s.usage);
    }
    const fin = await stream(be.url, conversation(4));
    assert.ok(fin.text.startsWith(FINAL_MARK) && fin.text.includes('status = draft'), fin.text);
    // not our task: fallback
    const other = await stream(be.url, { stream: true, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(other.text, 'OK.');
  });
}

test('text backend renders the variants asked for', () => {
  const [w, r, e, b] = notesSteps(WORK);
  const q = renderCall('qwen', r);
  assert.match(q, /<parameter=offset>\n1\n<\/parameter>\n<parameter=limit>\n50\n<\/parameter>/);
  assert.match(renderCall('qwen', e), /<parameter=replace_all>\nfalse\n<\/parameter>/);
  assert.match(renderCall('qwen', b), /<parameter=timeout>\n30000\n<\/parameter>/);
  assert.ok(renderCall('qwen', w).includes(`<parameter=content>\n${NOTES_CONTENT}\n</parameter>`));
  const hr = renderCall('hermes', r);
  const inner = /"arguments": (".*")\}\n<\/tool_call>$/.exec(hr);
  assert.ok(inner, `Read is not double-encoded: ${hr}`);
  assert.deepEqual(JSON.parse(JSON.parse(inner[1])), r.args);
  assert.match(renderCall('hermes', e), /"replace_all":"false",\}\}\n<\/tool_call>$/);
  const hw = /<tool_call>\n(.*)\n<\/tool_call>$/s.exec(renderCall('hermes', w));
  assert.deepEqual(JSON.parse(hw[1]).arguments, w.args);
});
