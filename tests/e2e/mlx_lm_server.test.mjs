// The mlx_lm.server emulator checked against what mlx-lm 0.32.0's source
// does (no claude needed): the wire format, the prompt cache's policy, model
// names and text-only content.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { sendRaw } from '../lib/net.mjs';
import { startMlxLmServer, LRUPromptCache, toolCallText, parseQwen3CoderCall, pyDumps, tokenize } from '../lib/mlx_lm_server.mjs';

const MODEL = 'mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit';
const tools = [{ type: 'function', function: { name: 'Write', parameters: { type: 'object', properties: { file_path: { type: 'string' }, content: { type: 'string' }, n: { type: 'integer' } } } } }];
const mlx = await startMlxLmServer({
  model: MODEL,
  prefillTps: 50000,
  prefillStepSize: 256,
  script: (body) => (body.tools ? `plan\n</think>\n\n${toolCallText('Write', { file_path: '/w/a.txt', content: 'x\ny', n: 3 })}` : 'hmm\n</think>\n\nHello.'),
});
after(() => mlx.close());

// A raw HTTP exchange: the whole bytes the server sent before closing.
function raw(method, path, body) {
  const b = body === undefined ? '' : JSON.stringify(body);
  const len = body === undefined ? '' : `Content-Length: ${Buffer.byteLength(b)}\r\n`;
  return sendRaw(mlx.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n${len}\r\n${b}`, 'end');
}

const sys = { role: 'system', content: 'You are a careful coding agent. '.repeat(200) };

test('a stream is HTTP/1.0, close-delimited, with keepalive comments, reasoning and a parsed tool call', async () => {
  const out = await raw('POST', '/v1/chat/completions', { stream: true, stream_options: { include_usage: true }, tools, messages: [sys, { role: 'user', content: 'write a.txt' }] });
  const [head, ...rest] = out.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.0 200 OK\r\nServer: BaseHTTP\/0\.6 Python\//);
  assert.match(head, /Content-type: text\/event-stream\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: \*/);
  assert.doesNotMatch(head, /Content-Length|Transfer-Encoding|keep-alive/i);
  assert.match(body, /^: keepalive 256\/\d+\n\n/);
  const events = body.split('\n\n').filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  // Python's json.dumps spacing
  assert.match(events.find((e) => e.startsWith('data: {')), /^data: \{"id": "chatcmpl-[0-9a-f-]+", "system_fingerprint": /);
  const chunks = events.filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
  const reasoning = chunks.map((c) => c.choices[0]?.delta?.reasoning ?? '').join('');
  assert.equal(reasoning, 'plan\n');
  assert.ok(chunks.every((c) => !c.choices[0]?.delta?.content?.includes('<')), 'markers leaked into content');
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, 'Write');
  assert.deepEqual(JSON.parse(calls[0].function.arguments), { file_path: '/w/a.txt', content: 'x\ny', n: 3 });
  assert.equal(calls[0].index, 0);
  const fin = chunks.find((c) => c.choices[0]?.finish_reason);
  assert.equal(fin.choices[0].finish_reason, 'tool_calls');
  const usage = chunks.at(-1).usage;
  assert.equal(usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(chunks.at(-1).model, 'default_model');
});

test('the same prompt again: all but the last token from the cache; no usage without include_usage', async () => {
  const body = { stream: false, messages: [sys, { role: 'user', content: 'hello' }] };
  const first = JSON.parse((await raw('POST', '/chat/completions', body)).split('\r\n\r\n')[1]);
  const again = await raw('POST', '/chat/completions', body);
  const [head, json] = again.split('\r\n\r\n');
  assert.match(head, /Content-Length: \d+/);
  const j = JSON.parse(json);
  assert.equal(j.choices[0].message.content, '\n\nHello.');
  assert.equal(j.choices[0].message.reasoning, 'hmm\n');
  assert.equal(j.usage.prompt_tokens, first.usage.prompt_tokens);
  assert.ok(j.usage.prompt_tokens_details.cached_tokens >= j.usage.prompt_tokens - 1, JSON.stringify(j.usage));
  const s = await raw('POST', '/v1/chat/completions', { ...body, stream: true });
  assert.ok(!s.includes('"usage"'), 'usage without stream_options.include_usage');
});

test('images: 404 "Only \'text\' content type is supported."', async () => {
  const out = await raw('POST', '/v1/chat/completions', { stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] }] });
  assert.match(out, /^HTTP\/1\.0 404 Not Found\r\n/);
  assert.ok(out.endsWith('{"error": "Only \'text\' content type is supported."}'), out);
});

test('another model name drops the loaded model, 404s offline, and the next request loads it again', async () => {
  const n = mlx.requests.length;
  const out = await raw('POST', '/v1/chat/completions', { model: 'claude-opus-5-5', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  assert.match(out, /^HTTP\/1\.0 404 /);
  assert.equal(mlx.loaded, null);
  const ok = await raw('POST', '/v1/chat/completions', { stream: false, messages: [{ role: 'user', content: 'hi' }] });
  assert.match(ok, /^HTTP\/1\.0 200 /);
  assert.equal(mlx.loaded, MODEL);
  assert.deepEqual(
    mlx.requests.slice(n).map((q) => q.model),
    ['claude-opus-5-5', 'default_model'],
  );
  assert.ok(mlx.events.some((e) => e.includes(`dropped ${MODEL} to load claude-opus-5-5`)));
});

test('/v1/models, /health, unknown paths, missing Content-Length', async () => {
  const m = await raw('GET', '/v1/models');
  assert.deepEqual(JSON.parse(m.split('\r\n\r\n')[1]).data.map((d) => d.id), [MODEL]);
  assert.ok(m.split('\r\n\r\n')[1].startsWith('{"object": "list", "data": [{"id": '));
  assert.ok((await raw('GET', '/health')).endsWith('{"status": "ok"}'));
  assert.ok((await raw('GET', '/v1/nothing')).endsWith('\r\n\r\nNot Found'));
  assert.match(await raw('POST', '/v1/messages', { a: 1 }), /^HTTP\/1\.0 404 /);
  const nolen = await sendRaw(mlx.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n', 'end');
  assert.match(nolen, /^HTTP\/1\.0 411 /);
});

test('LRUPromptCache: prefixes removed on insert, insertion-order eviction, trimmed longer entries', () => {
  const c = new LRUPromptCache(3);
  const t = (s) => s.split('');
  c.insert('m', t('abc'), 'system');
  c.insert('m', t('abcdef'), 'user'); // removes its prefix abc
  assert.equal(c.size, 1);
  assert.equal(c.fetchNearest('m', t('abcdef')), 6); // exact
  assert.equal(c.fetchNearest('m', t('abcdxy')), 4); // longer entry trimmed to the common prefix
  assert.equal(c.fetchNearest('m', t('abc')), 2); // at most len - 1 from a longer entry
  assert.equal(c.fetchNearest('m', t('xyz')), 0);
  assert.equal(c.fetchNearest('other', t('abcdef')), 0); // per model
  c.insert('m', t('abcdefgh'), 'assistant'); // removes abcdef
  c.insert('m', t('abX1'), 'assistant');
  c.insert('m', t('abX2'), 'assistant');
  assert.equal(c.size, 3);
  // a hit does not refresh: the oldest inserted goes first
  assert.equal(c.fetchNearest('m', t('abcdefgh')), 8);
  c.insert('m', t('abX3'), 'assistant');
  assert.equal(c.size, 3);
  assert.equal(c.fetchNearest('m', t('abcdefgh')), 2); // gone: only 'ab', from an abX entry trimmed
});

test('Qwen3-Coder parser and helpers', () => {
  const p = parseQwen3CoderCall(toolCallText('Write', { n: '7', content: 'null' }).replace(/^<tool_call>|<\/tool_call>$/g, ''), tools);
  assert.deepEqual(p, { name: 'Write', arguments: { n: 7, content: null } });
  assert.throws(() => parseQwen3CoderCall('no call here', tools), /No function provided/);
  assert.equal(pyDumps({ a: [1, 'é'], b: null }), '{"a": [1, "\\u00e9"], "b": null}');
  assert.deepEqual(tokenize('<|im_start|>user\nHello world'), ['<|im_start|>', 'user', '\n', 'Hello', ' world']);
});
