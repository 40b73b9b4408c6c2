// strict_claude: a scripted Claude API upstream that ENFORCES the Messages
// API's documented rules on thinking blocks, for tests of conversations that
// cross between local models and Claude (mixed.test.mjs).
//
//   const sc = await startStrictClaude();
//   sc.url             // API root for a `claude` backend
//   sc.be              // the anthropic_backend underneath (requests, ...)
//   sc.check(body)     // null, or the 400 message the API would give
//   sc.issued          // signatures/data this "API" made
//
// Rules, as the Anthropic docs state them (extended thinking, "Thinking with
// tool use", "Preserved thinking"):
// - a thinking block's `signature` must be one the API made; anything else
//   is `Invalid \`signature\` in \`thinking\` block`;
// - the signature binds the block to its prefix (top-level system, tools and
//   everything in messages before the block); a changed prefix is "bound to
//   a different conversation" (cache_control markers do not count: clients
//   move them every turn);
// - redacted_thinking data must be the API's own;
// - with manual thinking ({"type":"enabled"}), a request that continues a
//   tool loop (the last user turn holds tool_result) needs the final
//   assistant message to start with a thinking or redacted_thinking block;
// - every message but a final assistant one needs non-empty content;
// - clear_thinking context edits need thinking on.
//
// The answer: the last user message says what to answer ("answer:tool" or
// "answer:text", in its text or its tool_result content). With thinking on
// (enabled or adaptive) the answer starts with a thinking block signed for
// where it will sit; then a tool_use block (stop tool_use) or a text block.

import crypto from 'node:crypto';
import { startAnthropicBackend, sseBytes, sseEvent, apiError } from './anthropic_backend.mjs';

const SECRET = crypto.randomBytes(16);

function stripCacheControl(v) {
  if (Array.isArray(v)) return v.map(stripCacheControl);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (k !== 'cache_control') o[k] = stripCacheControl(x);
    return o;
  }
  return v;
}

// The prefix of the block at messages[mi].content[bi].
function prefixHash(body, mi, bi) {
  const msgs = (body.messages ?? []).slice(0, mi);
  const m = body.messages?.[mi];
  const partial = m ? { role: m.role, content: Array.isArray(m.content) ? m.content.slice(0, bi) : [] } : null;
  const p = stripCacheControl({ system: body.system ?? null, tools: body.tools ?? null, messages: partial ? [...msgs, partial] : msgs });
  return crypto.createHash('sha256').update(JSON.stringify(p)).digest('hex');
}

function sign(prefix, text) {
  return 'Eq' + crypto.createHmac('sha256', SECRET).update(prefix + '\n' + text).digest('base64');
}

function blocks(m) {
  return Array.isArray(m?.content) ? m.content : [];
}

function lastUserWants(body) {
  const last = body.messages?.at(-1);
  if (typeof last?.content === 'string') return last.content.includes('answer:tool') ? 'tool' : 'text';
  const s = JSON.stringify(last?.content ?? '');
  return s.includes('answer:tool') ? 'tool' : 'text';
}

export async function startStrictClaude() {
  const issued = new Map(); // signature -> { prefix, text }
  const redacted = new Set();
  let seq = 0;

  // null when the body is valid; else the API's 400 message.
  function check(body) {
    const msgs = body.messages ?? [];
    const thinkingType = body.thinking?.type;
    for (let mi = 0; mi < msgs.length; mi++) {
      const m = msgs[mi];
      const empty = Array.isArray(m.content) ? m.content.length === 0 : !m.content;
      if (empty && !(mi === msgs.length - 1 && m.role === 'assistant'))
        return `messages.${mi}: all messages must have non-empty content except for the optional final assistant message`;
      if (m.role !== 'assistant') continue;
      const bl = blocks(m);
      for (let bi = 0; bi < bl.length; bi++) {
        const b = bl[bi];
        if (b.type === 'thinking') {
          const rec = issued.get(b.signature);
          if (!rec || rec.text !== b.thinking) return `messages.${mi}.content.${bi}: Invalid \`signature\` in \`thinking\` block`;
          if (rec.prefix !== prefixHash(body, mi, bi))
            return `messages.${mi}.content.${bi}: Invalid \`signature\` in \`thinking\` block. The block is bound to a different conversation.`;
        } else if (b.type === 'redacted_thinking') {
          if (!redacted.has(b.data)) return `messages.${mi}.content.${bi}: Invalid \`data\` in \`redacted_thinking\` block`;
        }
      }
    }
    const last = msgs.at(-1);
    const loop = last?.role === 'user' && blocks(last).some((b) => b.type === 'tool_result');
    if (thinkingType === 'enabled' && loop) {
      let ai = -1;
      for (let i = msgs.length - 1; i >= 0; i--)
        if (msgs[i].role === 'assistant') {
          ai = i;
          break;
        }
      const first = blocks(msgs[ai])[0];
      if (ai >= 0 && blocks(msgs[ai]).some((b) => b.type === 'tool_use') && first?.type !== 'thinking' && first?.type !== 'redacted_thinking')
        return (
          `messages.${ai}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first?.type}\`. ` +
          'When `thinking` is enabled, a final `assistant` message must start with a thinking block ' +
          '(preceeding the lastmost set of `tool_use` and `tool_result` blocks).'
        );
    }
    const edits = body.context_management?.edits ?? [];
    if ((thinkingType === 'disabled' || !thinkingType) && edits.some((e) => String(e.type).startsWith('clear_thinking')))
      return 'context_management: clear_thinking edits require thinking to be enabled';
    return null;
  }

  function answer(rec) {
    const body = rec.json;
    if (!body) return apiError(400, 'invalid_request_error', 'body is not JSON');
    const bad = check(body);
    rec.verdict = bad;
    if (bad) return apiError(400, 'invalid_request_error', bad);
    const n = ++seq;
    const id = `msg_01Strict${n}`;
    const model = body.model;
    const thinkingOn = body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive';
    const wants = lastUserWants(body);
    const events = [
      sseEvent('message_start', {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
      }),
    ];
    let index = 0;
    if (thinkingOn) {
      const text = `claude thinks (${n})`;
      // the block will be content[0] of the assistant message that follows the request's messages
      const prefix = prefixHash({ ...body, messages: [...body.messages, { role: 'assistant', content: [] }] }, body.messages.length, 0);
      const signature = sign(prefix, text);
      issued.set(signature, { prefix, text });
      events.push(
        sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }),
        sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: text } }),
        sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature } }),
        sseEvent('content_block_stop', { type: 'content_block_stop', index }),
      );
      index++;
    }
    if (wants === 'tool') {
      events.push(
        sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_01Strict${n}`, name: 'get_time', input: {} } }),
        sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '{"tz":"UTC"}' } }),
        sseEvent('content_block_stop', { type: 'content_block_stop', index }),
      );
    } else {
      events.push(
        sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }),
        sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: `from claude (${n})` } }),
        sseEvent('content_block_stop', { type: 'content_block_stop', index }),
      );
    }
    events.push(
      sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: wants === 'tool' ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } }),
      sseEvent('message_stop', { type: 'message_stop' }),
    );
    return sseBytes(events);
  }

  const be = await startAnthropicBackend((rec) => answer(rec));
  return {
    be,
    url: be.url,
    check,
    issued,
    close: () => be.close(),
  };
}
