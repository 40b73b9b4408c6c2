// bench/mlx_prompt_cache.mjs: how big mlx_lm.server's prompt cache must be
// for Claude Code's traffic. Drives the mlx_lm.server emulator
// (tests/lib/mlx_lm_server.mjs, whose LRUPromptCache follows mlx-lm 0.32.0)
// with Claude-Code-shaped conversations rendered as anyclaude sends them: a
// main conversation (~12k tokens of system prompt and tools) that starts a
// subagent (its own system prompt and tools) making K requests, or P
// subagents at once, then takes its next turn. Prints, for each
// --prompt-cache-size, the share of the main conversation's next turn served
// from the cache. One command, no model, a few seconds:
//
//   node bench/mlx_prompt_cache.mjs [--sizes 10,16,24] [--k 2,4,8,9,12,20]
//
// Why entries run out: the model's reasoning is not sent back in history, so
// a conversation's next prompt is not an extension of the entry its last
// answer left (prompt + generated tokens); mlx_lm.server removes only stored
// prefixes of a new entry, so every request adds one entry, and the oldest
// goes first (insertion order, not use).

import { startMlxLmServer } from '../tests/lib/mlx_lm_server.mjs';

const arg = (n, d) => {
  const i = process.argv.indexOf(`--${n}`);
  return (i >= 0 ? process.argv[i + 1] : d).split(',').map(Number);
};
const SIZES = arg('sizes', '10,16,24');
const KS = arg('k', '2,4,8,9,12,20');

// deterministic filler text: n words
function words(seed, n) {
  let x = seed;
  const out = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(['file', 'tool', 'read', 'write', 'edit', 'user', 'agent', 'cache', 'shell', 'test'][x % 10] + (x % 97));
  }
  return out.join(' ');
}
const tools = (seed, n) =>
  Array.from({ length: n }, (_, i) => ({ type: 'function', function: { name: `T${seed}_${i}`, description: words(seed * 100 + i, 120), parameters: { type: 'object', properties: { a: { type: 'string' } } } } }));

function conversation(seed, sysWords, ntools) {
  const body = { stream: false, max_tokens: 64, tools: tools(seed, ntools), messages: [{ role: 'system', content: words(seed, sysWords) }, { role: 'user', content: `task ${seed}: ${words(seed + 7, 60)}` }] };
  let n = 0;
  return {
    body,
    // the model's answer as anyclaude replays it (reasoning dropped) and a tool result
    next() {
      n++;
      body.messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `c${seed}_${n}`, type: 'function', function: { name: `T${seed}_0`, arguments: JSON.stringify({ a: `step ${n}` }) } }] });
      body.messages.push({ role: 'tool', tool_call_id: `c${seed}_${n}`, content: words(seed * 31 + n, 80) });
    },
  };
}

async function send(mlx, body) {
  const r = await fetch(`${mlx.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  return j.usage;
}

async function scenario(size, k, parallel) {
  const mlx = await startMlxLmServer({ promptCacheSize: size, prefillTps: 1e9, decodeMs: 0, loadMs: 0, script: () => 'thinking about it\n</think>\n\nok' });
  try {
    const main = conversation(1, 2500, 12);
    await send(mlx, main.body); // main turn 1: asks for a subagent
    main.next();
    const subs = Array.from({ length: parallel }, (_, i) => conversation(100 + i, 900, 8));
    for (let step = 0; step < k; step++)
      for (const s of subs) {
        await send(mlx, s.body);
        s.next();
      }
    const u = await send(mlx, main.body); // main's next turn
    return u.prompt_tokens_details.cached_tokens / u.prompt_tokens;
  } finally {
    await mlx.close();
  }
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;
console.log('main conversation\'s next turn, share served from the prompt cache');
console.log(`| subagent requests while the main waits | ${SIZES.map((s) => `--prompt-cache-size ${s}`).join(' | ')} |`);
console.log(`| --- | ${SIZES.map(() => '---:').join(' | ')} |`);
for (const k of KS) {
  const row = [];
  for (const s of SIZES) row.push(pct(await scenario(s, k, 1)));
  console.log(`| 1 subagent, ${k} requests | ${row.join(' | ')} |`);
}
for (const [p, k] of [
  [3, 3],
  [4, 3],
  [8, 2],
]) {
  const row = [];
  for (const s of SIZES) row.push(pct(await scenario(s, k, p)));
  console.log(`| ${p} subagents at once, ${k} requests each | ${row.join(' | ')} |`);
}
