// minimum: the physical limit of a prefix cache for each request of a run:
// its tokens after the longest common prefix with any earlier prompt of the
// run. Each Anthropic request Claude Code sent is rendered in the ideal
// order (system prompt without the per-session billing block, tools by
// name, then messages, role:"system" messages before the first assistant
// turn ahead of the first user turn, cache_control and thinking dropped)
// and tokenized by llama-server's own tokenizer.

function blockText(b) {
  if (typeof b === 'string') return b;
  if (!b || typeof b !== 'object') return '';
  if (b.type === 'text') return b.text ?? '';
  if (b.type === 'tool_use') return `<call ${b.name}>${JSON.stringify(b.input ?? {})}`;
  if (b.type === 'tool_result') return `<result>${Array.isArray(b.content) ? b.content.map(blockText).join('\n') : (b.content ?? '')}`;
  if (b.type === 'image') return '<image>';
  return '';
}

const contentText = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.map(blockText).filter(Boolean).join('\n') : '');

export function canonical(body) {
  const sys = (Array.isArray(body.system) ? body.system : body.system ? [{ text: String(body.system) }] : [])
    .map((b) => b?.text ?? '')
    .filter((t) => !t.startsWith('x-anthropic-billing-header:'))
    .join('\n');
  const tools = [...(body.tools ?? [])]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => JSON.stringify({ name: t.name, description: t.description, parameters: t.input_schema }));
  const msgs = body.messages ?? [];
  let end = msgs.findIndex((m) => m.role === 'assistant');
  if (end < 0) end = msgs.length;
  const firstUser = msgs.findIndex((m, i) => i < end && m.role === 'user');
  const lead = firstUser < 0 ? '' : msgs.slice(0, end).filter((m) => m.role === 'system').map((m) => `<system-reminder>\n${contentText(m.content)}\n</system-reminder>`).join('\n');
  const parts = [sys, tools.join('\n')];
  msgs.forEach((m, i) => {
    if (m.role === 'system' && i < end && firstUser >= 0) return;
    const text = contentText(m.content);
    parts.push(`<${m.role}>\n${i === firstUser && lead ? `${lead}\n` : ''}${text}`);
  });
  return parts.join('\n');
}

export async function tokenize(llamaBase, text) {
  const r = await fetch(`${llamaBase}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: text, add_special: false, parse_special: false }),
  });
  if (!r.ok) throw new Error(`tokenize: HTTP ${r.status}`);
  return (await r.json()).tokens;
}

function lcp(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

// For requests (Anthropic bodies, in the order sent): [{ tokens, minimum }].
export async function minimums(llamaBase, bodies) {
  const seen = [];
  const out = [];
  for (const body of bodies) {
    const t = await tokenize(llamaBase, canonical(body));
    let best = 0;
    for (const s of seen) best = Math.max(best, lcp(s, t));
    seen.push(t);
    out.push({ tokens: t.length, minimum: t.length - best });
  }
  return out;
}
