// Request loops: a backend URL that points back at the gateway itself (a
// typo, the gateway's port given as --backend), or two gateways pointing at
// each other. Each request passes once, comes back, and is refused with a
// message that names the cause; nothing piles up; the gateway keeps serving.
// Before, the request went round until the concurrency limit (1024), and the
// client read "at its limit of 1024 concurrent requests".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, freePort, basicRequest } from '../lib/gateway.mjs';
import { post, assertFailed, metrics, waitIdle } from '../lib/fault.mjs';

const LOOP = /request loop: this request came back to the anyclaude gateway/;

for (const mode of ['anthropic', 'openai', 'claude']) {
  test(`${mode} mode, --backend is the gateway itself: a request loop error at the first turn, nothing piles up`, async () => {
    const gw = await startGateway({ mode, backend: (port) => `http://127.0.0.1:${port}${mode === 'openai' ? '/v1' : ''}`, model: 'm' });
    try {
      for (const streamed of [false, true]) {
        const r = await post(gw, basicRequest({ stream: streamed }));
        // anthropic and claude modes relay the backend's own error (508);
        // openai mode reports the backend's failure as its own (500)
        assertFailed(r, { status: mode === 'openai' ? 500 : 508, type: 'api_error', streamed });
        assert.match(JSON.parse(r.text).error.message, LOOP);
      }
      const health = await (await fetch(`${gw.url}/health`)).json();
      assert.equal(health.backend_status.http_status, 508, JSON.stringify(health));
      await waitIdle(gw);
      const m = await metrics(gw);
      // the two client requests; the looped ones were refused at the door
      assert.equal(m['anyclaude_requests_total{endpoint="messages"}'], 2, JSON.stringify(m));
      await gw.stopClean();
    } finally {
      await gw.stop();
    }
  });
}

test('two gateways pointing at each other: the loop is found where it closes, both keep serving', async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  const a = await startGateway({ mode: 'anthropic', port: pa, backend: `http://127.0.0.1:${pb}`, model: 'm' });
  const b = await startGateway({ mode: 'anthropic', port: pb, backend: `http://127.0.0.1:${pa}`, model: 'm' });
  try {
    const r = await post(a, basicRequest());
    assertFailed(r, { status: 508, type: 'api_error', streamed: false });
    assert.match(JSON.parse(r.text).error.message, LOOP);
    await waitIdle(a);
    await waitIdle(b);
    const [ma, mb] = [await metrics(a), await metrics(b)];
    assert.equal(ma['anyclaude_requests_total{endpoint="messages"}'], 1);
    assert.equal(mb['anyclaude_requests_total{endpoint="messages"}'], 1);
    await a.stopClean();
    await b.stopClean();
  } finally {
    await a.stop();
    await b.stop();
  }
});
