// sse: the one SSE writer and the one SSE parser of the test library.
//
//   sseEvent(name, data)  one named event as the Anthropic API writes it
//   sseData(obj)          one unnamed `data:` event as OpenAI servers write it
//   parseSSE(text)        [{ event, data }] (data JSON-parsed when possible)
//   sseReader()           the same parse fed piece by piece: push(text) → new events,
//                         flush() → the last block when the text ended without a blank line

// One SSE event as the Anthropic API writes it.
export function sseEvent(name, data) {
  return `event: ${name}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

// One OpenAI-style event: `data: JSON` (a string is written as it is, so
// sseData('[DONE]') is the end marker).
export function sseData(data) {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

function parseBlock(block) {
  let event = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (event === null && data.length === 0) return null;
  let d = data.join('\n');
  try {
    d = JSON.parse(d);
  } catch {
    /* keep text */
  }
  return { event, data: d };
}

// Parse an SSE text into [{ event, data }]; comment-only blocks are skipped.
export function parseSSE(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    const ev = parseBlock(block);
    if (ev) out.push(ev);
  }
  return out;
}

// Incremental form: push(text) returns the events completed by it.
export function sseReader() {
  let pending = '';
  return {
    push(text) {
      pending += text;
      const out = [];
      let m;
      while ((m = /\r?\n\r?\n/.exec(pending))) {
        const block = pending.slice(0, m.index);
        pending = pending.slice(m.index + m[0].length);
        if (!block.trim()) continue;
        const ev = parseBlock(block);
        if (ev) out.push(ev);
      }
      return out;
    },
    flush() {
      const block = pending;
      pending = '';
      const ev = block.trim() ? parseBlock(block) : null;
      return ev ? [ev] : [];
    },
  };
}
