// proxy: the two taps bench/sessions puts around each path.
//
//   claude ──▶ front tap ──▶ path (anyclaude, claude-code-router, or nothing)
//          ──▶ llama tap ──▶ llama-server
//
// The front tap keeps each Anthropic request Claude Code sent (for the
// minimum: tokens after the longest common prefix with any earlier prompt).
// The llama tap reads llama-server's own counters from each answer: chat
// completions' `timings` (prompt_n prefilled, cache_n cached) or /v1/messages'
// usage (input_tokens prefilled, cache_read_input_tokens cached). Both tag
// what they see with the scenario step running (tap.step), and with what
// both can see of a request (script.mjs pairKey: number of tools, first
// turn or not), so the two are paired up per step and key when a subagent
// or a title request runs beside the main loop. The front tap also names the
// request's kind: subagent (x-claude-code-agent-id), background (no tools),
// main.
//
// Both can be re-pointed (retarget) when a step restarts what is behind them.
// A front tap also forwards /fwd/<port>/... to 127.0.0.1:<port>: the wrapper
// bench/sessions gives `anyclaude --claude` points Claude Code there, at the
// gateway the launcher started. tap.script(body) may answer a request itself
// (script.mjs); the request still goes through and its answer is dropped.

import http from 'node:http';
import { classOf, pairKey, sseAnswer } from './script.mjs';

function forward(target, req, body, res, onDone) {
  const u = new URL(req.url, target);
  const headers = { ...req.headers, host: u.host };
  delete headers['content-length'];
  // a fresh connection each time: node's global agent keeps connections alive,
  // and a request sent on one llama-server has just closed failed here with a
  // 502 the path then took for llama-server's (a slot copy "failed")
  const up = http.request(u, { method: req.method, agent: false, headers: { ...headers, 'content-length': body.length } }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    const chunks = [];
    ur.on('data', (d) => {
      chunks.push(d);
      res.write(d);
    });
    ur.on('end', () => {
      res.end();
      onDone(ur.statusCode, Buffer.concat(chunks).toString('utf8'));
    });
    ur.on('error', () => res.destroy());
  });
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(e) }));
    onDone(502, '');
  });
  up.end(body);
}

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${server.address().port}`)));
}

// Counters from one llama-server answer (SSE or JSON, chat or messages).
export function countersOf(text) {
  const out = { prefilled: null, cached: null };
  const take = (j) => {
    if (!j || typeof j !== 'object') return;
    if (j.timings && typeof j.timings.prompt_n === 'number') {
      out.prefilled = j.timings.prompt_n;
      out.cached = j.timings.cache_n ?? 0;
      return;
    }
    const u = j.usage ?? j.message?.usage;
    if (u && typeof u.input_tokens === 'number' && out.prefilled === null) {
      out.prefilled = u.input_tokens;
      out.cached = u.cache_read_input_tokens ?? 0;
    } else if (u && typeof u.prompt_tokens === 'number' && out.prefilled === null) {
      out.cached = u.prompt_tokens_details?.cached_tokens ?? 0;
      out.prefilled = u.prompt_tokens - out.cached;
    }
  };
  if (/^\s*[{[]/.test(text)) {
    try {
      take(JSON.parse(text));
    } catch {
      /* not JSON */
    }
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    try {
      take(JSON.parse(line.slice(5)));
    } catch {
      /* [DONE] */
    }
  }
  return out;
}

export async function startTaps(llamaBase) {
  const tap = { step: 'start', front: [], llama: [], inflight: 0, lastDone: 0, script: null };
  const llamaServer = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const p = req.url.split('?')[0];
      const counted = req.method === 'POST' && (p.endsWith('/chat/completions') || p.endsWith('/v1/messages'));
      let j = null;
      if (counted) {
        try {
          j = JSON.parse(body.toString('utf8'));
        } catch {
          /* counted anyway */
        }
      }
      const rec = counted ? { step: tap.step, path: p, t0: Date.now(), warm: j?.max_tokens === 1, slot: j?.id_slot ?? null, key: pairKey(j), body: process.env.BENCH_DUMP ? j : undefined } : null;
      forward(llamaBase, req, body, res, (status, text) => {
        if (!rec) return;
        Object.assign(rec, { status, t1: Date.now() }, countersOf(text));
        tap.llama.push(rec);
      });
    });
  });
  const llamaUrl = await listen(llamaServer);
  const servers = [llamaServer];
  // a front tap toward target (several: two gateways, one tap each)
  const front = async (target0) => {
    let target = target0;
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let to = target;
        const fwd = /^\/fwd\/(\d+)(\/.*)$/.exec(req.url);
        if (fwd) {
          to = `http://127.0.0.1:${fwd[1]}`;
          req.url = fwd[2];
        }
        const p = req.url.split('?')[0];
        let j = null;
        if (req.method === 'POST' && p === '/v1/messages') {
          try {
            j = JSON.parse(body.toString('utf8'));
            const agent = req.headers['x-claude-code-agent-id'] ?? null;
            tap.front.push({ step: tap.step, t0: Date.now(), body: j, key: pairKey(j), cls: agent ? 'sub' : classOf(j) === 'bg' ? 'bg' : 'main', agent });
          } catch {
            /* not JSON */
          }
        }
        const answer = j && tap.script && !req.headers['x-claude-code-agent-id'] ? tap.script(j) : null;
        tap.inflight++;
        const done = () => {
          tap.inflight--;
          tap.lastDone = Date.now();
        };
        if (!answer) return forward(to, req, body, res, done);
        // the path does the real prefill; Claude Code gets the scripted answer
        const sink = { headersSent: false, writeHead() {}, write() {}, end() {}, destroy() {} };
        forward(to, req, body, sink, () => {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.end(sseAnswer(j, answer));
          done();
        });
      });
    });
    servers.push(server);
    const url = await listen(server);
    return { url, retarget: (t) => (target = t) };
  };
  return {
    tap,
    llamaUrl,
    front,
    retargetLlama: (b) => (llamaBase = b),
    close: () => {
      for (const s of servers) {
        s.closeAllConnections?.();
        s.close();
      }
    },
  };
}
