// Issue 13's findings, one regression test each (each failed on the binary
// before the fix): who may use the gateway (Host, Origin, Content-Type,
// token, the launcher's per-run token), strict framing seen through the
// real gateway, what /health tells strangers, pre-auth cost (body not read
// before the token is checked), header injection from an upstream
// Content-Type, escaped request targets in the log, secrets of route
// backends, the command-line key warning, and the upstream idle and total
// timeouts. The numeric checks (pipelined flood RSS, fd exhaustion) are in
// exhaustion.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startBackend, sse, chunks, json, completion, turn, waitFor } from '../lib/openai_backend.mjs';
import { startGateway, basicRequest, BIN, ROOT } from '../lib/gateway.mjs';
import { rawExchange, assertErrorBody, requestBytes, startRawBackend, DEADLINE, sleep, tmpdir } from '../lib/fault.mjs';


const BODY = JSON.stringify(basicRequest());

// The backend's request count once the gateway's start-up probes (GETs: the
// context window, the models) have landed: on a loaded machine one can come
// after the gateway already answers. Quiet for 500 ms, at most 10 s.
async function settledRequests(be) {
  const t0 = Date.now();
  let n = be.requests.length;
  for (let quiet = 0; quiet < 5 && Date.now() - t0 < 10000; ) {
    await new Promise((r) => setTimeout(r, 100));
    if (be.requests.length === n) quiet++;
    else (n = be.requests.length), (quiet = 0);
  }
  return n;
}

async function withGateway(opts, fn) {
  const be = opts.be ?? (await startBackend(turn({ text: ['MODEL ANSWER'], finish: 'stop' })));
  const gw = await startGateway({ backend: be.url, model: 'm', ...opts, be: undefined });
  try {
    return await fn({ gw, be });
  } finally {
    await gw.stop();
    if (!opts.be) await be.close();
  }
}

// One raw request; returns { status, body, headers, raw }.
async function raw(port, bytes) {
  const x = await rawExchange(port, async (s) => s.write(bytes, 'latin1'), { until: (rs) => rs.length >= 1 });
  return { ...(x.responses[0] ?? { status: null, body: '' }), raw: x.raw, closed: x.closed, all: x.responses };
}

function post(port, headers, body = BODY, target = '/v1/messages') {
  let h = `POST ${target} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries({ 'Content-Length': Buffer.byteLength(body), ...headers })) h += `${k}: ${v}\r\n`;
  return raw(port, h + '\r\n' + body);
}

test('CSRF: text/plain bodies and foreign Origins are refused before the model sees them', async () => {
  await withGateway({}, async ({ gw, be }) => {
    const host = `127.0.0.1:${gw.port}`;
    const plain = await post(gw.port, { Host: host, 'Content-Type': 'text/plain' });
    assert.equal(plain.status, 415, plain.raw.slice(0, 300));
    assertErrorBody(plain.body, 'invalid_request_error', 'application/json');
    const form = await post(gw.port, { Host: host, 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    const evil = await post(gw.port, { Host: host, 'Content-Type': 'text/plain', Origin: 'https://evil.example' });
    assert.equal(evil.status, 403, evil.raw.slice(0, 300));
    assertErrorBody(evil.body, 'permission_error', 'evil.example');
    const evilJson = await post(gw.port, { Host: host, 'Content-Type': 'application/json', Origin: 'null' });
    assert.equal(evilJson.status, 403);
    assert.equal(be.chatRequests().length, 0, 'nothing reached the model');
    // the same request as Claude Code sends it is served
    const ok = await post(gw.port, { Host: host, 'Content-Type': 'application/json; charset=utf-8', 'anthropic-version': '2023-06-01' });
    assert.equal(ok.status, 200, ok.raw.slice(0, 300));
    assert.match(ok.body, /MODEL ANSWER/);
  });
});

test('DNS rebinding: a Host that does not name the listener is refused; the listener\'s own names are served', async () => {
  await withGateway({}, async ({ gw, be }) => {
    for (const h of [`rebind.attacker.example:${gw.port}`, 'rebind.attacker.example', `127.0.0.1:${gw.port + 1}`, `localhost.evil:${gw.port}`, `127.0.0.1.nip.io:${gw.port}`]) {
      const r = await post(gw.port, { Host: h, 'Content-Type': 'application/json' });
      assert.equal(r.status, 403, `${h}: ${r.raw.slice(0, 200)}`);
      assertErrorBody(r.body, 'permission_error', 'Host');
    }
    assert.equal(be.chatRequests().length, 0);
    for (const h of [`127.0.0.1:${gw.port}`, `localhost:${gw.port}`, `LOCALHOST:${gw.port}`, `[::1]:${gw.port}`]) {
      const r = await raw(gw.port, `GET /v1/models HTTP/1.1\r\nHost: ${h}\r\n\r\n`);
      assert.equal(r.status, 200, `${h}: ${r.raw.slice(0, 200)}`);
    }
  });
});

test('the launcher makes a random token per run, requires it, and keeps backend keys out of claude\'s environment', async () => {
  const be = await startBackend(turn({ text: ['MODEL ANSWER'], finish: 'stop' }));
  const dir = tmpdir('anyclaude-launch-');
  const out = path.join(dir, 'out.txt');
  // a stand-in for claude: reports its environment and tries the gateway
  // with the old fixed placeholder and with the token it was given
  const fake = path.join(dir, 'claude');
  fs.writeFileSync(fake, `#!/bin/sh
{
  echo "TOKEN=$ANTHROPIC_AUTH_TOKEN"
  echo "HEADERS=$ANTHROPIC_CUSTOM_HEADERS"
  echo "OPENAI_API_KEY=\${OPENAI_API_KEY-unset}"
  echo "MY_KEY=\${MY_BACKEND_KEY-unset}"
  H="$(echo "$ANTHROPIC_BASE_URL" | sed 's#http://##')"
  echo "PLACEHOLDER=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer anyclaude' "$ANTHROPIC_BASE_URL/v1/models")"
  echo "NONE=$(curl -s -o /dev/null -w '%{http_code}' "$ANTHROPIC_BASE_URL/v1/models")"
  echo "OWN=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANTHROPIC_AUTH_TOKEN" "$ANTHROPIC_BASE_URL/v1/models")"
  echo "HEADER=$(curl -s -o /dev/null -w '%{http_code}' -H "$ANTHROPIC_CUSTOM_HEADERS" "$ANTHROPIC_BASE_URL/v1/models")"
} > "${out}"
`);
  fs.chmodSync(fake, 0o755);
  const runs = [];
  try {
    for (let i = 0; i < 2; i++) {
      const env = { ...process.env, HOME: dir, XDG_STATE_HOME: dir, XDG_CONFIG_HOME: dir, OPENAI_API_KEY: 'sk-launcher-secret-123456', MY_BACKEND_KEY: 'sk-launcher-secret-123456' };
      const child = spawn(BIN, ['--mode', 'openai', '--backend', be.url, '--claude', fake], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((r) => child.once('exit', r));
      assert.equal(code, 0, stderr);
      runs.push(Object.fromEntries(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
    }
  } finally {
    await be.close();
  }
  for (const r of runs) {
    assert.match(r.TOKEN, /^[0-9a-f]{48}$/, 'a random token');
    assert.equal(r.HEADERS, `x-anyclaude-token: ${r.TOKEN}`);
    assert.equal(r.PLACEHOLDER, '401', 'the old fixed token "anyclaude" no longer opens the gateway');
    assert.equal(r.NONE, '401');
    assert.equal(r.OWN, '200');
    assert.equal(r.HEADER, '200', 'the token in x-anyclaude-token works too (claude mode)');
    assert.equal(r.OPENAI_API_KEY, 'unset', 'the mode\'s key variable is not inherited');
    assert.equal(r.MY_KEY, 'unset', 'a variable holding a backend key is not inherited');
  }
  assert.notEqual(runs[0].TOKEN, runs[1].TOKEN, 'a new token every run');
});

// Framing the gateway used to accept (each hides a request or a header).
const FRAMINGS = {
  'header name with a CR (X-A\\rTransfer-Encoding: chunked)': (h) => `GET /v1/models HTTP/1.1\r\nHost: ${h}\r\nX-A\rTransfer-Encoding: chunked\r\n\r\n`,
  'header name with a space': (h) => `GET /v1/models HTTP/1.1\r\nHost: ${h}\r\nX A: b\r\n\r\n`,
  'bare LF request swallowing the next one': (h) => `POST /v1/messages HTTP/1.1\nHost: ${h}\nContent-Type: application/json\nContent-Length: 4\n\nab\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
  'chunk size 0x10': (h) => `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n`,
  'chunk size " +2"': (h) => `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n +2\r\n{}\r\n0\r\n\r\n`,
  'Content-Length: +N': (h) => `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Type: application/json\r\nContent-Length: +2\r\n\r\n{}`,
  'HTTP/1.9': (h) => `GET /v1/models HTTP/1.9\r\nHost: ${h}\r\n\r\n`,
  'no Host': () => `GET /v1/models HTTP/1.1\r\n\r\n`,
  'two Hosts': (h) => `GET /v1/models HTTP/1.1\r\nHost: ${h}\r\nHost: ${h}\r\n\r\n`,
  'control character in the target': (h) => `GET /v1/models\x1b[31m HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
};

test('strict framing through the gateway: each ambiguous request gets one 400/505 and a close, nothing upstream', async () => {
  await withGateway({ args: ['--debug', '2'] }, async ({ gw, be }) => {
    const atStart = await settledRequests(be);
    const bad = [];
    for (const [label, make] of Object.entries(FRAMINGS)) {
      const r = await raw(gw.port, make(`127.0.0.1:${gw.port}`));
      if (!(r.status === 400 || (label === 'HTTP/1.9' && r.status === 505)) || r.all.length !== 1 || !r.closed)
        bad.push(`${label}: ${r.all.map((x) => x.status).join(',')} closed=${r.closed} ${r.raw.slice(0, 120)}`);
      else assertErrorBody(r.body, 'invalid_request_error');
    }
    assert.deepEqual(bad, []);
    assert.equal(be.requests.length, atStart, 'nothing went upstream');
    assert.doesNotMatch(gw.stderr, /\x1b/, 'no terminal escape reached the log');
  });
});

test('/health without the token says only {"status":"ok"} and sends nothing upstream; details need the token', async () => {
  await withGateway({ args: ['--auth-token', 'tok-health-123'] }, async ({ gw, be }) => {
    const atStart = await settledRequests(be);
    for (const p of ['/health', '/']) {
      const r = await raw(gw.port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nX-Probe: leak-me\r\n\r\n`);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
    }
    assert.equal(be.requests.length, atStart, 'a probe without the token goes nowhere');
    const d = await raw(gw.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nx-api-key: tok-health-123\r\n\r\n`);
    const j = JSON.parse(d.body);
    assert.equal(j.status, 'ok');
    assert.ok(j.backend && j.backend_status, `details with the token: ${d.body}`);
    const m = await raw(gw.port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n\r\n`);
    assert.equal(m.status, 401);
  });
});

test('pre-auth: a request without the token is refused after its head; the body is never invited or read', async () => {
  await withGateway({ args: ['--auth-token', 'tok-preauth-123'] }, async ({ gw }) => {
    const head = `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 30000000\r\n\r\n`;
    const t0 = Date.now();
    const r = await raw(gw.port, head); // no body sent at all
    assert.equal(r.status, 401, r.raw.slice(0, 200));
    assert.doesNotMatch(r.raw, /100 Continue/, 'no invitation to send the body');
    assert.ok(r.closed, 'the connection closes (its unread body would be taken for a request)');
    assert.ok(Date.now() - t0 < DEADLINE);
  });
});

test('an upstream Content-Type with a bare CR cannot split the reply\'s headers', async () => {
  const rb = await startRawBackend((sock) => {
    const body = '{"type":"message","id":"m1","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}';
    sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\rX-Injected: yes\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  try {
    const gw = await startGateway({ backend: rb.url, mode: 'anthropic', model: 'm' });
    try {
      const r = await post(gw.port, { Host: `127.0.0.1:${gw.port}`, 'Content-Type': 'application/json', 'anthropic-version': '2023-06-01' });
      const head = r.raw.slice(0, r.raw.indexOf('\r\n\r\n'));
      assert.doesNotMatch(head, /\r(?!\n)/, `a bare CR in the reply head: ${JSON.stringify(head)}`);
      assert.doesNotMatch(head, /^X-Injected/im);
    } finally {
      await gw.stop();
    }
  } finally {
    await rb.close();
  }
});

test('keys of route backends (apiKey, apiKeyEnv) are redacted like --api-key; a key on the command line draws a warning', async () => {
  const be = await startBackend((rec) => json({ error: { message: `bad key ${rec.headers.authorization}` } }, { status: 400 }));
  const dir = tmpdir('anyclaude-keys-');
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({
    backends: {
      a: { mode: 'openai', url: be.url, apiKey: 'route-secret-aaaa-1111' },
      b: { mode: 'openai', url: be.url, apiKeyEnv: 'ROUTE_KEY_B' },
    },
    routes: [{ when: 'background', to: 'b' }, { when: 'default', to: 'a' }],
  }));
  try {
    const gw = await startGateway({ backend: be.url, model: 'm', args: ['--config', cfg, '--debug', '2', '--api-key', 'cli-secret-cccc-3333'], env: { ROUTE_KEY_B: 'route-secret-bbbb-2222' } });
    try {
      assert.match(gw.stderr, /--api-key puts the secret in the process list/);
      const r = await post(gw.port, { Host: `127.0.0.1:${gw.port}`, 'Content-Type': 'application/json' });
      assert.equal(r.status, 400, r.raw.slice(0, 300));
      assert.doesNotMatch(r.body, /route-secret-aaaa/, 'the key the backend echoed is masked for the client');
      await sleep(200);
      for (const k of ['route-secret-aaaa-1111', 'route-secret-bbbb-2222', 'cli-secret-cccc-3333'])
        assert.ok(!gw.stderr.includes(k), `${k} in the log`);
      assert.ok(be.requests.some((q) => q.headers.authorization === 'Bearer route-secret-aaaa-1111'), 'the key was used');
    } finally {
      await gw.stop();
    }
  } finally {
    await be.close();
  }
});

test('upstream idle timeout: a backend silent after its answer started is cut; total timeout for non-streamed requests', async () => {
  const be = await startBackend(sse(chunks({ text: ['first ', 'never'], finish: 'stop' }), { stallAfter: 2 }));
  try {
    const gw = await startGateway({ backend: be.url, model: 'm', args: ['--upstream-idle-timeout', '1', '--request-timeout', '2', '--ping-ms', '200'] });
    try {
      const t0 = Date.now();
      const s = await post(gw.port, { Host: `127.0.0.1:${gw.port}`, 'Content-Type': 'application/json' }, JSON.stringify(basicRequest({ stream: true })));
      assert.equal(s.status, 200);
      assert.match(s.body, /event: error[\s\S]*sent nothing for 1 s/, s.body.slice(-400));
      assert.ok(Date.now() - t0 < 10000, 'cut within seconds');
      await waitFor(() => be.lastChat()?.closed, 'the backend request cancelled', DEADLINE);
      be.script = json(completion({ text: ['late'] }), { delayMs: 6000 });
      const t1 = Date.now();
      const w = await post(gw.port, { Host: `127.0.0.1:${gw.port}`, 'Content-Type': 'application/json' });
      assert.ok(w.status >= 500, `${w.status} ${w.body}`);
      assert.ok(Date.now() - t1 < 5500, 'the total timeout ended it before the backend answered');
    } finally {
      await gw.stop();
    }
  } finally {
    await be.close();
  }
});

// The idle and ping timers are armed once and put off when they fire, not
// moved at every chunk: a backend that keeps talking, each gap shorter than
// the idle timeout and the ping interval but the whole answer much longer,
// is neither cut nor pinged.
test('upstream idle timeout: a backend that keeps sending is not cut, and its chunks put pings off', async () => {
  const text = Array.from({ length: 10 }, (_, i) => `w${i} `);
  const be = await startBackend(sse(chunks({ text, finish: 'stop' }), { gapMs: 300 }));
  try {
    const gw = await startGateway({ backend: be.url, model: 'm', args: ['--upstream-idle-timeout', '1', '--ping-ms', '700'] });
    try {
      const t0 = Date.now();
      const s = await post(gw.port, { Host: `127.0.0.1:${gw.port}`, 'Content-Type': 'application/json' }, JSON.stringify(basicRequest({ stream: true })));
      assert.equal(s.status, 200);
      assert.ok(Date.now() - t0 > 2500, 'the answer took longer than the idle timeout and the ping interval');
      assert.doesNotMatch(s.body, /event: error/, s.body.slice(-400));
      assert.doesNotMatch(s.body, /event: ping/, 'no ping while chunks came every 300 ms');
      assert.match(s.body, /event: message_stop/);
      assert.equal([...s.body.matchAll(/"text_delta","text":"(w\d )"/g)].map((m) => m[1]).join(''), text.join(''));
    } finally {
      await gw.stop();
    }
  } finally {
    await be.close();
  }
});

test('a request dribbled a byte at a time gets 408 at its deadline: the limit is per request, not an inactivity timer', async () => {
  await withGateway({ args: ['--request-deadline', '2'] }, async ({ gw }) => {
    const head = `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`;
    const t0 = Date.now();
    const x = await rawExchange(gw.port, async (s) => {
      for (let i = 0; i < head.length && !s.destroyed && Date.now() - t0 < 12000; i++) {
        s.write(head[i]);
        await sleep(50); // far more often than any inactivity timeout
      }
    }, { until: (rs) => rs.length >= 1, timeoutMs: 15000 });
    assert.equal(x.responses[0]?.status, 408, x.raw.slice(0, 200));
    assertErrorBody(x.responses[0].body, 'invalid_request_error', 'in time');
    assert.ok(Date.now() - t0 < 8000, `cut at the deadline, after ${Date.now() - t0} ms`);
  });
});
