// script: the one scripted answer bench/sessions gives Claude Code, and how
// a request is classified.
//
// The tiny random-weight model never calls a tool, so the subagent scenario
// has the front tap answer one main-loop request itself with a tool_use of
// the Agent tool. The request is still sent on through the path to
// llama-server (its prefill is real and counted); only the model's answer
// is replaced. Everything else Claude Code sees comes from the model.

// 'main' (offers Agent or Task), 'sub' (other tools: a subagent), 'bg' (no
// tools: a title or other background request). Works on Anthropic and
// OpenAI chat bodies alike.
export function classOf(body) {
  const names = (body?.tools ?? []).map((t) => t?.name ?? t?.function?.name).filter(Boolean);
  if (!names.length) return 'bg';
  return names.includes('Agent') || names.includes('Task') ? 'main' : 'sub';
}

// What the front tap and the llama tap can both see of a request, to pair
// them up (the gateway renders it anew, drops headers, renames nothing):
// how many tools it offers, and whether an assistant turn came before.
// MCP tools (deferred until ToolSearch loads them) and Claude Code's
// DeferredToolPlaceholder are not counted: a gateway declares them only
// once loaded, so the two taps would count them differently.
export function pairKey(body) {
  const first = !(body?.messages ?? []).some((m) => m.role === 'assistant');
  const names = (body?.tools ?? []).map((t) => t?.name ?? t?.function?.name ?? '');
  const counted = names.filter((n) => n !== 'DeferredToolPlaceholder' && !n.startsWith('mcp__'));
  return `${counted.length}:${first ? 'first' : 'more'}`;
}

const hasToolResult = (body) =>
  (body?.messages ?? []).some((m) => Array.isArray(m.content) && m.content.some((b) => b?.type === 'tool_result'));

// The Agent call for the first main-loop request of a conversation (the
// front tap never asks for a subagent's request: subagents offer Agent too).
export function agentAnswer(body) {
  if (classOf(body) !== 'main' || hasToolResult(body)) return null;
  if ((body.messages ?? []).some((m) => m.role === 'assistant')) return null;
  const names = body.tools.map((t) => t.name);
  return {
    text: 'Asking a subagent.',
    tool: {
      id: `toolu_bench_${Date.now().toString(36)}`,
      name: names.includes('Agent') ? 'Agent' : 'Task',
      input: { description: 'Summarize notes', prompt: 'Say in one sentence what notes.txt is about. Do not use tools.', subagent_type: 'general-purpose' },
    },
  };
}

// The MCP scenario's tool (tests/lib/mcp_server.mjs, configured as "bench").
export const MCP_TOOL = 'mcp__bench__echo_text';

// The tool calls of the MCP scenario's first main-loop turn: ToolSearch
// for the MCP tool, then the tool itself; after that the model answers.
export function mcpAnswer(body) {
  if (classOf(body) !== 'main') return null;
  const calls = (body.messages ?? []).flatMap((m) => (m.role === 'assistant' && Array.isArray(m.content) ? m.content.filter((b) => b?.type === 'tool_use') : []));
  const id = `toolu_bench_${Date.now().toString(36)}`;
  if (calls.length === 0) return { text: 'Loading the echo tool.', tool: { id, name: 'ToolSearch', input: { query: `select:${MCP_TOOL}` } } };
  if (calls.length === 1 && calls[0].name === 'ToolSearch') return { text: 'Calling it.', tool: { id, name: MCP_TOOL, input: { text: 'hello from the bench' } } };
  return null;
}

const sse = (event, data) => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;

// An Anthropic streaming answer (text, then the tool call).
export function sseAnswer(body, answer) {
  const usage = { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  let out = sse('message_start', { message: { id: `msg_bench_${Date.now()}`, type: 'message', role: 'assistant', model: body?.model ?? 'bench', content: [], stop_reason: null, stop_sequence: null, usage } });
  out += sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  out += sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: answer.text } });
  out += sse('content_block_stop', { index: 0 });
  out += sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: answer.tool.id, name: answer.tool.name, input: {} } });
  out += sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: JSON.stringify(answer.tool.input) } });
  out += sse('content_block_stop', { index: 1 });
  out += sse('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 20 } });
  out += sse('message_stop', {});
  return out;
}
