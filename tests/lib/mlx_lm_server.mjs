// mlx_lm_server: an emulator of `mlx_lm.server` (ml-explore/mlx-lm at
// d78bf58, version 0.32.0) for tests that cannot run the real one (it needs
// Apple silicon). Written from that commit's source; the line numbers below
// are of that commit. What it reproduces, and from where:
//
// HTTP (mlx_lm/server.py, APIHandler, on Python's BaseHTTPRequestHandler):
//  - HTTP/1.0 answers (BaseHTTPRequestHandler's default protocol_version): no
//    keep-alive, no chunked encoding, no "100 Continue"; a stream ends when
//    the server closes the connection. Status line and the Server/Date
//    headers as http.server writes them.
//  - POST /v1/chat/completions and /chat/completions (do_POST, 1050-1065);
//    other paths 404 "Not Found"; no Content-Length 411; bad JSON 400
//    (1066-1108). GET /v1/models (1612-1671) and /health (1602-1610).
//  - Parameter extraction (1110-1150): a missing "model" is "default_model",
//    i.e. the model given with --model (ModelProvider.load, 369-377).
//  - Streams: "Content-type: text/event-stream", "Cache-Control: no-cache",
//    CORS headers (_set_stream_headers, 1040-1044); `: keepalive N/TOTAL`
//    comment lines during prompt processing (keepalive_callback, 1362-1367);
//    chunks `data: {json}` written with Python's json.dumps (", " and ": "
//    separators, non-ASCII escaped), delta {role, content, reasoning,
//    tool_calls} (generate_response, 1301-1312); a final chunk with the
//    finish_reason, then a usage chunk only with stream_options.include_usage
//    (1476-1496), then `data: [DONE]`.
//  - usage.prompt_tokens_details.cached_tokens = the tokens found in the
//    prompt cache when the request was admitted (1293-1296, 1542-1545).
//  - Errors raised while a request is admitted (tokenising, loading a model)
//    become 404 {"error": str(e)} (1370-1380): a content part that is not
//    text gives "Only 'text' content type is supported." (process_message_content,
//    117-148).
//  - Any "model" other than the loaded one is a Hugging Face repo to load
//    (ModelProvider.load, 369-377): the loaded model is dropped first (_load,
//    306-318), the download fails offline, the request gets 404, and the next
//    request for the default model loads it again. The batch in progress is
//    drained before (the "drain_batch" branch, 766-772).
//  - /v1/models lists the models in the Hugging Face cache plus --model when it
//    is a local path (handle_models_request, 1612-1671); here: --model and any
//    cachedModels.
//
// Generation (ResponseGenerator._generate, 624-886, and BatchGenerator in
// mlx_lm/generate.py):
//  - One generation loop for all requests. A request is admitted between
//    steps of the batch; only then is its prompt rendered, tokenised and
//    looked up in the prompt cache (fetch_nearest_cache, 688): a request
//    that arrives while another with the same prefix is still prefilling
//    does not see that prefix and prefills it again.
//  - Prompts are split into segments: leading system messages, the rest, and
//    a short tail holding the generation prompt's <think> (_tokenize,
//    495-622); the last token is held back (generate.py insert_segments,
//    1712-1724). Prefill runs in steps of at most --prefill-step-size (2048)
//    tokens, never across a segment end (generate.py _next, 1895-1912), and up
//    to --prompt-concurrency (8) prompts share a step. The cache is saved at
//    each segment end and, with the generated tokens, when a request finishes
//    (the insert_cache calls in _generate's batch loop).
//  - LRUPromptCache (mlx_lm/models/cache.py, 1533-1772): a trie of token
//    sequences per model; exact match, else the longest stored prefix, else a
//    longer entry trimmed to the common prefix (KV caches are trimmable);
//    inserting an entry removes its stored prefixes; past --prompt-cache-size
//    (default 10) entries the oldest goes first (assistant entries before
//    user before system, CacheOrder.pop). A fetch does not refresh an entry.
//  - The text state machine (generate.py TextStateMachine, 959-1047, and
//    make_text_state_machine, 1058-1085) splits the output into reasoning
//    (between <think> and </think>; a prompt ending in <think> starts in it),
//    tool calls (<tool_call>...</tool_call>) and text; tool calls are parsed
//    server-side by the Qwen3-Coder parser (mlx_lm/tool_parsers/qwen3_coder.py:
//    <function=NAME><parameter=K>value</parameter></function>, values
//    coerced by the tool's JSON schema) and formatted by ToolCallFormatter
//    (53-90); finish_reason "tool_calls" after a call (1473-1474).
//
// Approximations, stated: the chat template is a Qwen3-style ChatML rendering
// (system + tools first, <tool_response> blocks in a user turn, thinking
// models' generation prompt "<|im_start|>assistant\n<think>\n"); tokens come
// from a deterministic word/punctuation splitter (words cut into pieces of at
// most 6 characters, about 4 bytes a token on English and JSON), not a real
// BPE. Timing is emulated: each batch step takes (prompt tokens in the step) /
// prefillTps seconds, plus decodeMs per step while something generates; a
// model load takes loadMs. The "model" is a script: script(body, info) returns
// the raw text the model writes after its generation prompt (reasoning, then
// "</think>", then text and/or <tool_call> blocks). Not emulated: the
// non-batched path (seed, draft models), /v1/completions, logprobs, stop words,
// --prompt-cache-bytes.
//
//   const mlx = await startMlxLmServer({ model: 'mlx-community/Qwen3-4B', script });
//   mlx.url          // "http://127.0.0.1:PORT/v1"
//   mlx.requests     // every POST: { t, path, model, body, status, prompt, cached, ttftMs,
//                    //   error, tokens (the rendered prompt, token by token) }
//   mlx.events       // model drops, loads, cache inserts/evictions (strings)
//   await mlx.close();
//
// Run alone: node tests/lib/mlx_lm_server.mjs --model NAME [--port 8081]
//   [--prompt-cache-size 10] [--prefill-tps 1500] [--decode-ms 25] [--log FILE]

import net from 'node:net';
import { listen, readRawRequest } from './http.mjs';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

// --- Python's json.dumps (default separators, ensure_ascii) --------------------

export function pyDumps(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string')
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (Array.isArray(v)) return '[' + v.map(pyDumps).join(', ') + ']';
  return '{' + Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => pyDumps(k) + ': ' + pyDumps(x)).join(', ') + '}';
}

// --- tokenizer (approximate, deterministic) -----------------------------------

const SPECIAL = /<\|[a-z_]+\|>|<\/?think>|<\/?tool_call>|<\/?tool_response>/y;
const PIECE = /[ ]?[A-Za-z]+|[ ]?[0-9]{1,3}|\n+|[ \t]+|[^A-Za-z0-9\s]/y;

export function tokenize(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    SPECIAL.lastIndex = i;
    let m = SPECIAL.exec(text);
    if (!m) {
      PIECE.lastIndex = i;
      m = PIECE.exec(text);
    }
    let t = m ? m[0] : text[i];
    if (t.length > 6 && !t.startsWith('<|')) t = t.slice(0, 6);
    out.push(t);
    i += t.length;
  }
  return out;
}

// --- chat template (Qwen3-style ChatML) ----------------------------------------

function formatValue(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// Render messages (already through process_message_content) to the prompt
// text. thinking: append "<think>\n" to the generation prompt.
export function renderChat(messages, tools, { addGenerationPrompt = true, thinking = true } = {}) {
  let s = '';
  let i = 0;
  const sysFirst = messages[0]?.role === 'system';
  if (sysFirst || tools?.length) {
    s += '<|im_start|>system\n' + (sysFirst ? messages[0].content : '');
    if (tools?.length) {
      s += '\n\n# Tools\n\nYou have access to the following functions:\n\n<tools>';
      for (const t of tools) s += '\n' + JSON.stringify(t.function ?? t);
      s +=
        '\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n' +
        '<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n</function>\n</tool_call>';
    }
    s += '<|im_end|>\n';
    if (sysFirst) i = 1;
  }
  for (; i < messages.length; i++) {
    const m = messages[i];
    if (m.role === 'tool') {
      s += '<|im_start|>user';
      for (; i < messages.length && messages[i].role === 'tool'; i++) s += '\n<tool_response>\n' + messages[i].content + '\n</tool_response>';
      i--;
      s += '<|im_end|>\n';
    } else if (m.role === 'assistant') {
      s += '<|im_start|>assistant\n' + (m.content ?? '');
      for (const c of m.tool_calls ?? []) {
        const f = c.function ?? {};
        s += '\n<tool_call>\n<function=' + f.name + '>\n';
        for (const [k, v] of Object.entries(f.arguments ?? {})) s += '<parameter=' + k + '>\n' + formatValue(v) + '\n</parameter>\n';
        s += '</function>\n</tool_call>';
      }
      s += '<|im_end|>\n';
    } else {
      s += '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n';
    }
  }
  if (addGenerationPrompt) s += '<|im_start|>assistant\n' + (thinking ? '<think>\n' : '');
  return s;
}

// process_message_content (server.py 118-149): list content must be all text
// parts and is joined; null content is ""; tool call arguments are parsed.
function processMessageContent(messages) {
  for (const m of messages) {
    if (Array.isArray(m.content)) {
      const texts = m.content.filter((f) => f.type === 'text').map((f) => f.text);
      if (texts.length !== m.content.length) throw new Error("Only 'text' content type is supported.");
      m.content = texts.join('');
    } else if (m.content === null || m.content === undefined) m.content = '';
    for (const c of m.tool_calls ?? []) if (c.function?.arguments) c.function.arguments = JSON.parse(c.function.arguments);
  }
}

// --- LRUPromptCache (mlx_lm/models/cache.py) ----------------------------------

export class LRUPromptCache {
  constructor(maxSize = 10, onEvent = () => {}) {
    this.maxSize = maxSize;
    this.trie = new Map(); // model -> node; node: Map token -> node, plus node.value
    this.lrus = { assistant: [], user: [], system: [] };
    this.onEvent = onEvent;
  }
  get size() {
    return this.lrus.assistant.length + this.lrus.user.length + this.lrus.system.length;
  }
  static node() {
    return { kids: new Map(), value: undefined };
  }
  root(model, create) {
    let r = this.trie.get(model);
    if (!r && create) this.trie.set(model, (r = LRUPromptCache.node()));
    return r;
  }
  // PromptTrie.search: { exact, shorter, longer, commonPrefix } as lengths.
  search(model, tokens) {
    const r = this.root(model, false);
    if (!r) return { exact: -1, shorter: 0, longer: -1, common: 0 };
    let cur = r;
    let last = -1;
    let i = 0;
    while (i < tokens.length && cur.kids.has(tokens[i])) {
      cur = cur.kids.get(tokens[i]);
      if (cur.value !== undefined) last = i;
      i++;
    }
    if (last === tokens.length - 1 && last >= 0) return { exact: tokens.length, shorter: 0, longer: -1, common: 0 };
    const shorter = last > 0 ? last + 1 : 0;
    let longer = -1;
    if (i > 0) {
      // the shortest stored sequence below the walk's end
      let best = null;
      const stack = [[cur, 0]];
      while (stack.length) {
        const [n, extra] = stack.pop();
        if (n.value !== undefined) {
          if (best === null || extra < best) best = extra;
        } else if (best === null || extra < best) for (const k of n.kids.values()) stack.push([k, extra + 1]);
      }
      if (best !== null) longer = i + best;
    }
    return { exact: -1, shorter, longer, common: i };
  }
  // fetch_nearest_cache: how many of tokens' leading tokens are served.
  fetchNearest(model, tokens) {
    const r = this.search(model, tokens);
    if (r.exact >= 0) return tokens.length;
    if (r.longer >= 0 && r.common > r.shorter) return Math.min(tokens.length - 1, r.common);
    return r.shorter;
  }
  insert(model, tokens, type = 'assistant') {
    const r = this.root(model, true);
    let cur = r;
    const path = [];
    for (const t of tokens) {
      if (cur.value !== undefined) path.push(path.length);
      let n = cur.kids.get(t);
      if (!n) cur.kids.set(t, (n = LRUPromptCache.node()));
      cur = n;
    }
    const key = tokens.join('\u0000');
    if (cur.value !== undefined) this.removeOrder(model, key);
    cur.value = { type, len: tokens.length };
    this.lrus[type].push({ model, tokens, key });
    // trimmable caches: drop the stored prefixes of this entry
    let n = r;
    for (let i = 0; i < tokens.length; i++) {
      if (n.value !== undefined) {
        n.value = undefined;
        this.removeOrder(model, tokens.slice(0, i).join('\u0000'));
        this.onEvent(`cache: dropped prefix of ${i} tokens`);
      }
      n = n.kids.get(tokens[i]);
    }
    this.onEvent(`cache: inserted ${type} entry of ${tokens.length} tokens (${this.size} entries)`);
    if (this.size > this.maxSize) {
      const e = this.popOrder();
      this.pop(e.model, e.tokens);
      this.onEvent(`cache: evicted a ${e.tokens.length}-token entry (size ${this.maxSize})`);
    }
  }
  removeOrder(model, key) {
    for (const t of ['assistant', 'user', 'system']) {
      const i = this.lrus[t].findIndex((e) => e.model === model && e.key === key);
      if (i >= 0) {
        this.lrus[t].splice(i, 1);
        return;
      }
    }
  }
  // CacheOrder.pop
  popOrder() {
    const order = ['assistant', 'user', 'system'];
    for (let i = 0; i + 1 < order.length; i++) {
      const a = this.lrus[order[i]];
      const b = this.lrus[order[i + 1]];
      if (a.length && a.length >= b.length) return a.shift();
    }
    return this.lrus.system.shift();
  }
  pop(model, tokens) {
    const path = [this.root(model, false)];
    for (const t of tokens) path.push(path[path.length - 1].kids.get(t));
    path[path.length - 1].value = undefined;
    for (let i = tokens.length; i > 0; i--) {
      const n = path[i];
      if (n.kids.size > 0 || n.value !== undefined) break;
      path[i - 1].kids.delete(tokens[i - 1]);
    }
  }
}

// --- the text state machine and the Qwen3-Coder tool parser --------------------

const TRANSITIONS = {
  normal: [
    ['<think>', 'reasoning'],
    ['<tool_call>', 'tool'],
  ],
  reasoning: [
    ['</think>', 'normal'],
    ['<tool_call>', 'tool'],
  ],
  tool: [['</tool_call>', 'normal']],
};

class TextSM {
  constructor(initial) {
    this.state = initial;
    this.buf = '';
  }
  // Returns [emittable, state]: markers stripped, partial markers held back.
  step(text) {
    this.buf += text;
    let out = '';
    for (;;) {
      const edges = TRANSITIONS[this.state];
      let best = null;
      for (const [m, to] of edges) {
        const i = this.buf.indexOf(m);
        if (i >= 0 && (best === null || i < best[0])) best = [i, m, to];
      }
      if (!best) break;
      // text before a marker belongs to the state it ends (mlx emits it with
      // the state after the step, like TextStateMachine.step)
      out += this.buf.slice(0, best[0]);
      this.buf = this.buf.slice(best[0] + best[1].length);
      this.state = best[2];
    }
    let hold = 0;
    for (const [m] of TRANSITIONS[this.state])
      for (let k = Math.min(m.length - 1, this.buf.length); k > 0; k--)
        if (this.buf.endsWith(m.slice(0, k))) {
          hold = Math.max(hold, k);
          break;
        }
    out += this.buf.slice(0, this.buf.length - hold);
    this.buf = this.buf.slice(this.buf.length - hold);
    return [out, this.state];
  }
}

function convertParam(value, name, props) {
  if (value.toLowerCase() === 'null') return null;
  const p = props[name];
  if (!p) return value;
  const type = String(p.type ?? 'string').trim().toLowerCase();
  if (['string', 'str', 'text', 'varchar', 'char', 'enum'].includes(type)) return value;
  if (/^(int|uint|long|short|unsigned)/.test(type)) {
    const f = Number(value);
    if (!Number.isFinite(f) || !Number.isInteger(f)) throw new Error(`Invalid integer literal '${value}'`);
    return f;
  }
  if (/^(num|float)/.test(type)) {
    const f = Number(value);
    if (!Number.isFinite(f)) throw new Error(`could not convert string to float: '${value}'`);
    return f;
  }
  if (['boolean', 'bool', 'binary'].includes(type)) return value.toLowerCase() === 'true';
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

// qwen3_coder.parse_tool_call
export function parseQwen3CoderCall(text, tools) {
  const m = /<function=([\s\S]*?)<\/function>\s?$/.exec(text);
  if (!m) throw new Error('No function provided.');
  const body = m[1];
  const end = body.indexOf('>');
  const name = body.slice(0, end);
  const fn = (tools ?? []).map((t) => t.function).find((f) => f?.name === name);
  const props = fn?.parameters?.properties ?? {};
  const args = {};
  for (const pm of body.slice(end + 1).matchAll(/<parameter=([\s\S]*?)<\/parameter>/g)) {
    const idx = pm[1].indexOf('>');
    let v = pm[1].slice(idx + 1);
    if (v.startsWith('\n')) v = v.slice(1);
    if (v.endsWith('\n')) v = v.slice(0, -1);
    args[pm[1].slice(0, idx)] = convertParam(v, pm[1].slice(0, idx), props);
  }
  return { name, arguments: args };
}

// The text a Qwen3-Coder model writes for one call.
export function toolCallText(name, args) {
  let s = `<tool_call>\n<function=${name}>\n`;
  for (const [k, v] of Object.entries(args)) s += `<parameter=${k}>\n${formatValue(v)}\n</parameter>\n`;
  return s + '</function>\n</tool_call>';
}

// --- the server -----------------------------------------------------------------

const REASONS = { 200: 'OK', 204: 'No Content', 400: 'Bad Request', 404: 'Not Found', 411: 'Length Required' };
const HF_OFFLINE =
  'An error happened while trying to locate the files on the Hub and we cannot find the requested files in the local cache. ' +
  'Please check your connection and try again or make sure your Internet connection is on.';

export const DEFAULT_SCRIPT = () => 'The user asked something; a short answer will do.\n</think>\n\nOK.';

export async function startMlxLmServer({
  model = 'mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit',
  cachedModels = [],
  port = 0,
  host = '127.0.0.1',
  promptCacheSize = 10,
  prefillTps = 20000,
  decodeMs = 2,
  loadMs = 100,
  downloadMs = 50,
  prefillStepSize = 2048,
  promptConcurrency = 8,
  thinking = true,
  script = DEFAULT_SCRIPT,
  log = null,
} = {}) {
  const t0 = Date.now();
  const requests = [];
  const events = [];
  const note = (s) => {
    events.push(`+${((Date.now() - t0) / 1000).toFixed(2)}s ${s}`);
    if (log) fs.appendFileSync(log, events[events.length - 1] + '\n');
  };
  const cache = new LRUPromptCache(promptCacheSize, note);
  const created = Math.floor(Date.now() / 1000);
  const fingerprint = '0.32.0-0.30.0-macOS-15.5-arm64-arm-64bit-applegpu_g15s';
  let loaded = null; // model_key (the path); null after a failed load
  const queue = []; // requests waiting for admission
  const active = []; // admitted: prefilling or generating
  let loopRunning = false;
  let drain = false;
  let batchModel = null;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function loadModel(name) {
    // ModelProvider._load: drop the old model first, then load or fail
    if (loaded !== null) note(`model: dropped ${loaded} to load ${name}`);
    loaded = null;
    if (name !== model) {
      await sleep(downloadMs);
      note(`model: could not download ${name} (offline)`);
      throw new Error(HF_OFFLINE);
    }
    await sleep(loadMs);
    loaded = name;
    note(`model: loaded ${name}`);
  }

  // _tokenize: the prompt, its segments and the initial state
  function tokenizeRequest(req) {
    const messages = structuredClone(req.body.messages);
    processMessageContent(messages);
    const tools = req.body.tools || null;
    const text = renderChat(messages, tools, { thinking });
    const prompt = tokenize(text);
    const initial = thinking ? 'reasoning' : 'normal';
    if (messages[messages.length - 1]?.role !== 'user') return { prompt, segments: [prompt.slice()], types: ['assistant'], initial };
    const segments = [];
    const types = [];
    let nsys = 0;
    while (nsys < messages.length && messages[nsys].role === 'system') nsys++;
    let sysEnd = 0;
    if (nsys > 0) {
      const sys = tokenize(renderChat([...messages.slice(0, nsys), { role: 'user', content: '' }], tools, { addGenerationPrompt: false }));
      for (let i = 0; i < Math.min(sys.length, prompt.length); i++)
        if (sys[i] !== prompt[i]) {
          sysEnd = i;
          break;
        }
      if (sysEnd > 0 && sysEnd < prompt.length) {
        segments.push(prompt.slice(0, sysEnd));
        types.push('system');
      }
    }
    let tail = prompt.length;
    if (thinking) {
      const from = Math.max(0, prompt.length - 11);
      const k = prompt.lastIndexOf('<think>');
      if (k >= from) tail = k;
    }
    if (sysEnd < tail) {
      segments.push(prompt.slice(sysEnd, tail));
      types.push('user');
    }
    if (tail < prompt.length) {
      segments.push(prompt.slice(tail));
      types.push('assistant');
    }
    return { prompt, segments, types, initial };
  }

  // Admission: tokenize, look the prompt up, start prefilling (649-694).
  function admit(req) {
    let t;
    try {
      t = tokenizeRequest(req);
    } catch (e) {
      req.fail(e);
      return;
    }
    const cached = cache.fetchNearest(loaded, t.prompt);
    let segs = t.segments.map((s) => s.slice());
    let types = t.types.slice();
    let n = cached;
    while (n > 0 && segs.length) {
      if (n >= segs[0].length) {
        n -= segs.shift().length;
        types.shift();
      } else {
        segs[0] = segs[0].slice(n);
        break;
      }
    }
    if (!segs.length) segs = [[t.prompt[t.prompt.length - 1]]]; // an exact hit still decodes from the last token
    // insert_segments: the last token goes alone
    const last = segs[segs.length - 1];
    if (last.length !== 1) {
      segs[segs.length - 1] = last.slice(0, -1);
      segs.push(last.slice(-1));
    }
    const seq = {
      req,
      prompt: t.prompt,
      cached,
      segs,
      types: types.reverse(),
      processed: 0,
      total: segs.reduce((a, s) => a + s.length, 0),
      done: cached, // tokens of the prompt in the cache so far
      sm: new TextSM(t.initial),
      gen: null,
      genTokens: [],
    };
    req.admitted(seq);
    active.push(seq);
  }

  async function loop() {
    if (loopRunning) return;
    loopRunning = true;
    try {
      while (queue.length || active.length) {
        // take new requests (the outer while of _generate)
        while (queue.length && !drain) {
          const req = queue[0];
          const want = req.model === 'default_model' ? model : req.model;
          if (active.length && batchModel === want) {
            queue.shift();
            admit(req);
          } else if (!active.length) {
            queue.shift();
            try {
              if (loaded !== want) await loadModel(want);
            } catch (e) {
              req.fail(e);
              continue;
            }
            batchModel = want;
            admit(req);
          } else {
            drain = true; // another model: finish the batch first
          }
        }
        if (!active.length) {
          drain = false;
          batchModel = null;
          continue;
        }
        // up to 0.5 s of batch steps (TimeBudget) before looking at the queue
        const budgetEnd = Date.now() + 500;
        while (active.length && Date.now() < budgetEnd) await stepBatch();
      }
    } finally {
      loopRunning = false;
    }
  }

  // One BatchGenerator._next: a decode step for the generating sequences, a
  // prefill step for up to promptConcurrency prompts.
  async function stepBatch() {
    // a handler whose client went away stops its request (ctx.stop in
    // handle_completion's finally; the batch drops the uid at its next step)
    for (const s of active.filter((x) => x.req.closed)) active.splice(active.indexOf(s), 1);
    if (!active.length) return;
    const generating = active.filter((s) => s.gen);
    const prompting = active.filter((s) => !s.gen).slice(0, promptConcurrency);
    const work = [];
    let ptoks = 0;
    for (const s of prompting) {
      if (s.segs.length === 1 && s.segs[0].length === 1) {
        work.push([s, 0]);
        continue;
      }
      const k = Math.min(s.segs[0].length, prefillStepSize);
      ptoks += k;
      work.push([s, k]);
    }
    const ms = ptoks / (prefillTps / 1000) + (generating.length ? decodeMs : 0);
    await sleep(Math.max(1, ms));
    for (const s of generating) decodeOne(s);
    for (const [s, k] of work) {
      if (k === 0) {
        // prompt done: start generating (the split in _next)
        s.req.progress(s.total, s.total);
        s.done += 1;
        startGeneration(s);
        continue;
      }
      s.segs[0] = s.segs[0].slice(k);
      s.processed += k;
      s.done += k;
      s.req.progress(s.processed, s.total);
      if (s.segs[0].length === 0) {
        s.segs.shift();
        if (s.types.length) cache.insert(loaded, s.prompt.slice(0, s.done), s.types.pop());
      }
    }
  }

  function startGeneration(s) {
    s.req.firstTokenAt = Date.now();
    let out;
    try {
      out = String(s.req.scriptFn(s.req.body, { model: loaded, cached: s.cached, prompt: s.prompt.length }));
    } catch (e) {
      out = `script error: ${e.message}`;
    }
    const toks = tokenize(out).slice(0, Math.max(1, s.req.maxTokens));
    s.gen = { toks, i: 0, finish: toks.length < tokenize(out).length ? 'length' : 'stop' };
  }

  function decodeOne(s) {
    const g = s.gen;
    if (g.i < g.toks.length) {
      const tok = g.toks[g.i++];
      s.genTokens.push(tok);
      const last = g.i === g.toks.length && g.finish === 'length';
      s.req.token(tok, last ? 'length' : null, s);
      return;
    }
    // the EOS token
    s.genTokens.push('<|im_end|>');
    s.req.token('', 'stop', s);
    cache.insert(loaded, s.prompt.concat(s.genTokens), 'assistant');
    active.splice(active.indexOf(s), 1);
  }

  // --- HTTP/1.0 ------------------------------------------------------------------

  function head(status, headers) {
    let h = `HTTP/1.0 ${status} ${REASONS[status] ?? 'Unknown'}\r\nServer: BaseHTTP/0.6 Python/3.12.8\r\nDate: ${new Date().toUTCString()}\r\n`;
    for (const [k, v] of headers) h += `${k}: ${v}\r\n`;
    return h;
  }
  const CORS = [
    ['Access-Control-Allow-Origin', '*'],
    ['Access-Control-Allow-Methods', '*'],
    ['Access-Control-Allow-Headers', '*'],
  ];
  const jsonHead = (status) => head(status, [['Content-type', 'application/json'], ...CORS]);

  function handle(sock, method, path, headers, body) {
    const send = (s) => {
      if (!sock.destroyed) sock.write(s);
    };
    const end = (s = '') => {
      if (!sock.destroyed) sock.end(s);
    };
    if (method === 'OPTIONS') return end(jsonHead(204) + '\r\n');
    if (method === 'GET') {
      if (path.startsWith('/v1/models')) {
        const ids = [...cachedModels, model];
        const filter = path.split('/').length > 3 ? path.split('/').slice(3).join('/') : null;
        const data = ids.filter((id) => !filter || id === filter).map((id) => ({ id, object: 'model', created }));
        return end(jsonHead(200) + '\r\n' + pyDumps({ object: 'list', data }));
      }
      if (path === '/health') return end(jsonHead(200) + '\r\n' + '{"status": "ok"}');
      return end(jsonHead(404) + '\r\nNot Found');
    }
    if (method !== 'POST') return end(`HTTP/1.0 501 Unsupported method ('${method}')\r\n\r\n`);
    if (!['/v1/chat/completions', '/chat/completions'].includes(path)) return end(jsonHead(404) + '\r\nNot Found');
    if (headers['content-length'] === undefined) return end(jsonHead(411) + '\r\n' + pyDumps({ error: 'Content-Length header is required' }));
    let b;
    try {
      b = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return end(jsonHead(400) + '\r\n' + pyDumps({ error: `Invalid JSON in request body: ${e.message}` }));
    }
    if (!b || typeof b !== 'object' || Array.isArray(b)) return end(jsonHead(400) + '\r\n' + pyDumps({ error: 'Request should be a JSON dictionary' }));
    const stream = b.stream ?? false;
    const requested = b.model ?? 'default_model';
    const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? 512;
    if (typeof stream !== 'boolean' || typeof requested !== 'string' || !Number.isInteger(maxTokens) || !Array.isArray(b.messages)) {
      // a ValueError/AssertionError in do_POST: http.server drops the connection
      sock.destroy();
      return;
    }
    const rec = {
      t: Date.now() - t0,
      path,
      model: requested,
      stream,
      body: b,
      status: null,
      prompt: null,
      cached: null,
      ttftMs: null,
      error: null,
    };
    requests.push(rec);
    note(`request ${requests.length}: model=${JSON.stringify(b.model ?? null)} stream=${stream}`);
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const objectType = stream ? 'chat.completion.chunk' : 'chat.completion';
    const includeUsage = stream && b.stream_options && b.stream_options.include_usage;
    const chunk = (extra, finish) => ({
      id,
      system_fingerprint: fingerprint,
      object: objectType,
      model: requested,
      created,
      choices: [{ index: 0, finish_reason: finish, ...extra }],
    });
    let text = '';
    let reasoning = '';
    let toolText = '';
    let toolCalls = [];
    let madeToolCall = false;
    let prevState = null;
    let finishReason = 'stop';
    let nTokens = 0;
    let toolIdx = 0;
    const formatCalls = (calls) => {
      const out = [];
      for (const t of calls) {
        let p;
        try {
          p = parseQwen3CoderCall(t, b.tools);
        } catch {
          continue; // logged and skipped (ToolCallFormatter.__call__)
        }
        const o = { function: { name: p.name, arguments: pyDumps(p.arguments) }, type: 'function', id: crypto.randomUUID() };
        if (stream) o.index = toolIdx++;
        out.push(o);
      }
      return out;
    };
    const delta = () => {
      const d = { role: 'assistant' };
      if (stream) {
        if (text) d.content = text;
      } else d.content = text || null;
      if (reasoning) d.reasoning = reasoning;
      const calls = formatCalls(toolCalls);
      if (calls.length) d.tool_calls = calls;
      return { [stream ? 'delta' : 'message']: d };
    };
    const req = {
      model: requested,
      body: b,
      closed: false,
      maxTokens,
      scriptFn: script,
      firstTokenAt: null,
      fail(e) {
        rec.status = 404;
        rec.error = e.message;
        note(`request ${requests.indexOf(rec) + 1}: 404 ${e.message}`);
        end(jsonHead(404) + '\r\n' + pyDumps({ error: e.message }));
      },
      admitted(seq) {
        rec.status = 200;
        rec.prompt = seq.prompt.length;
        rec.tokens = seq.prompt; // the rendered prompt, token by token
        rec.cached = seq.cached;
        prevState = seq.sm.state;
        if (stream) send(head(200, [['Content-type', 'text/event-stream'], ['Cache-Control', 'no-cache'], ...CORS]) + '\r\n');
      },
      progress(done, total) {
        if (stream) send(`: keepalive ${done}/${total}\n\n`);
      },
      token(tok, finish, seq) {
        if (rec.ttftMs === null) rec.ttftMs = Date.now() - t0 - rec.t;
        let clean = '';
        let state;
        nTokens++;
        if (finish === 'stop') {
          seq.sm.buf = '';
          state = seq.sm.state;
        } else {
          [clean, state] = seq.sm.step(tok);
          if (finish === 'length') {
            clean += seq.sm.buf;
            seq.sm.buf = '';
          }
        }
        if (state === 'reasoning') reasoning += clean;
        else if (state === 'tool') toolText += clean;
        else {
          if (prevState === 'tool') {
            toolCalls.push(toolText);
            toolText = '';
            madeToolCall = true;
          }
          text += clean;
        }
        if (stream && state !== 'tool' && (text || toolCalls.length || reasoning)) {
          send(`data: ${pyDumps(chunk(delta(), null))}\n\n`);
          text = '';
          reasoning = '';
          toolCalls = [];
        }
        if (finish) finishReason = finish;
        prevState = state;
        if (!finish) return;
        if (prevState === 'tool' && toolText) {
          toolCalls.push(toolText);
          madeToolCall = true;
        }
        if (finishReason === 'stop' && madeToolCall) finishReason = 'tool_calls';
        const usage = { prompt_tokens: seq.prompt.length, completion_tokens: nTokens, total_tokens: seq.prompt.length + nTokens };
        usage.prompt_tokens_details = { cached_tokens: seq.cached };
        if (stream) {
          send(`data: ${pyDumps(chunk(delta(), finishReason))}\n\n`);
          if (includeUsage) send(`data: ${pyDumps({ id, system_fingerprint: fingerprint, object: 'chat.completion', model: requested, created, choices: [], usage })}\n\n`);
          end('data: [DONE]\n\n');
        } else {
          const out = { ...chunk(delta(), finishReason), usage }; // key order of generate_response
          const bytes = Buffer.from(pyDumps(out));
          end(jsonHead(200) + `Content-Length: ${bytes.length}\r\n\r\n` + bytes.toString('latin1'));
        }
      },
    };
    sock.on('close', () => {
      req.closed = true;
    });
    queue.push(req);
    loop();
  }

  const server = net.createServer((sock) => {
    readRawRequest(sock, (r) => handle(sock, r.method, r.path, r.headers, r.body));
  });
  const l = await listen(server, { port, host });
  // load_default at start
  await loadModel(model);
  const p = l.port;
  return {
    port: p,
    url: `http://${host}:${p}/v1`,
    model,
    requests,
    events,
    cache,
    get loaded() {
      return loaded;
    },
    chat: () => requests,
    summary: () =>
      requests
        .map((r, i) => `#${i + 1} +${(r.t / 1000).toFixed(2)}s model=${r.model} status=${r.status} prompt=${r.prompt} cached=${r.cached} ttft=${r.ttftMs}ms${r.error ? ' error=' + r.error : ''}`)
        .join('\n'),
    close: l.close,
  };
}

// --- run alone -------------------------------------------------------------------

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const a = process.argv.slice(2);
  const opt = (n, d) => {
    const i = a.indexOf(`--${n}`);
    return i >= 0 ? a[i + 1] : d;
  };
  const log = opt('log', null);
  const srv = await startMlxLmServer({
    model: opt('model', 'mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit'),
    port: Number(opt('port', 8080)),
    promptCacheSize: Number(opt('prompt-cache-size', 10)),
    prefillTps: Number(opt('prefill-tps', 1500)),
    decodeMs: Number(opt('decode-ms', 25)),
    loadMs: Number(opt('load-ms', 2000)),
    log,
  });
  process.stderr.write(`mlx_lm_server emulator: ${srv.url} model=${srv.model}\n`);
}
