// client: the raw-HTTP streaming client bench/overhead measures with (node:http,
// no SDK, so client overhead stays small and the same for every path).
//
// streamOnce(target, agent): one POST; consumes every byte of the reply.
// Times with process.hrtime.bigint() from just before the request is created:
//   ttfb  - until the first received bytes that contain target.firstMarker
//           ("content_block_delta" for the Anthropic paths, "data: " for direct)
//   total - until the response's last byte ('end').
// ok = HTTP 200 and target.endMarker ("message_stop" / "[DONE]") seen.
//
// load(target, {clients, seconds}): `clients` concurrent loops of streamOnce
// until the deadline; counts completed streams and errors (non-200, socket
// errors, a stream without its end marker, or one exceeding timeoutMs).

import http from 'node:http';

export function makeAgent(maxSockets = 1) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
}

// Does the new chunk (with the tail of the previous one) contain marker?
function seen(prevTail, chunk, marker) {
  if (chunk.includes(marker)) return true;
  if (!prevTail.length) return false;
  return Buffer.concat([prevTail, chunk.subarray(0, marker.length)]).includes(marker);
}

export function streamOnce(t, agent, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let ttfb = null;
    let bytes = 0;
    let tailBuf = Buffer.alloc(0);
    let done = false;
    let ended = false;
    let status = 0;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const total = process.hrtime.bigint() - t0;
      const ok = !err && status === 200 && ended;
      resolve({ ok, status, err: err ? String(err.message ?? err) : ok ? null : `status ${status}${ended ? '' : ', no end marker'}`, ttfbNs: ttfb, totalNs: total, bytes });
    };
    const req = http.request(
      { host: '127.0.0.1', port: t.port, path: t.path, method: 'POST', headers: { ...t.headers, 'content-length': t.body.length }, agent },
      (res) => {
        status = res.statusCode;
        const endMarker = Buffer.from(t.endMarker);
        const firstMarker = Buffer.from(t.firstMarker);
        res.on('data', (d) => {
          bytes += d.length;
          if (ttfb === null && status === 200 && seen(tailBuf, d, firstMarker)) ttfb = process.hrtime.bigint() - t0;
          if (!ended && seen(tailBuf, d, endMarker)) ended = true;
          tailBuf = d.length >= 32 ? d.subarray(d.length - 32) : Buffer.concat([tailBuf, d]).subarray(-32);
        });
        res.on('end', () => finish(null));
        res.on('error', (e) => finish(e));
        res.on('aborted', () => finish(new Error('aborted')));
      },
    );
    const timer = setTimeout(() => {
      finish(new Error(`timeout ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => finish(e));
    req.end(t.body);
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

export async function load(t, { clients, seconds, timeoutMs = 60000, onTick = null }) {
  const agent = makeAgent(clients);
  const deadline = Date.now() + seconds * 1000;
  const res = { clients, seconds, completed: 0, errors: 0, errorKinds: new Map(), durationsMs: [], started: 0 };
  const t0 = Date.now();
  const loop = async () => {
    while (Date.now() < deadline) {
      res.started++;
      const r = await streamOnce(t, agent, { timeoutMs });
      if (r.ok) {
        res.completed++;
        res.durationsMs.push(Number(r.totalNs) / 1e6);
      } else {
        res.errors++;
        const k = (r.err ?? 'error').replace(/:\d+/g, ':N').slice(0, 60);
        res.errorKinds.set(k, (res.errorKinds.get(k) ?? 0) + 1);
        if (res.errors > clients * 5) break; // failing fast: no point hammering
      }
    }
  };
  const tick = onTick ? setInterval(() => onTick(res), 5000) : null;
  await Promise.all(Array.from({ length: clients }, loop));
  if (tick) clearInterval(tick);
  agent.destroy();
  res.wallS = (Date.now() - t0) / 1000;
  const d = res.durationsMs.sort((a, b) => a - b);
  res.p50 = pct(d, 50);
  res.p99 = pct(d, 99);
  res.max = d.length ? d[d.length - 1] : NaN;
  res.rps = res.completed / res.wallS;
  delete res.durationsMs;
  return res;
}
