// A real browser against the loopback gateway (issue 13, "a web page can
// drive the loopback gateway"): headless Chromium loads a page from a local
// origin that tries
//   1. an HTML form POST with enctype=text/plain (no script needed),
//   2. a fetch with Content-Type text/plain (a "simple" request: no preflight),
//   3. a fetch to a foreign Host name that resolves to 127.0.0.1 (DNS
//      rebinding, simulated with --host-resolver-rules),
//   4. a fetch with application/json and a CORS preflight, the way a web
//      UI the user allowed would call it.
// Against a default gateway none reaches the model. A control run, the same
// page against a gateway started with the page's origin allowed
// (--allowed-origins), gets exactly one model answer (the 4th, read by the
// page's script): the checks would notice if anything got through.
// Chromium comes from Debian's `chromium` package (scripts/deps.sh); the
// test is skipped, saying so, only when it is not installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startBackend, turn } from '../lib/openai_backend.mjs';
import { startGateway } from '../lib/gateway.mjs';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
const skip = CHROMIUM ? false : 'no chromium: install Debian\'s `chromium` package (scripts/deps.sh does)';

const BODY = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi from a web page' }] };

function page(gwPort) {
  const gw = `http://127.0.0.1:${gwPort}`;
  const rebind = `http://rebind.attacker.test:${gwPort}`;
  // the form's text/plain body reads as JSON: name + "=" + value
  const json = JSON.stringify(BODY);
  const name = json.slice(0, -1) + ',"pad":"';
  return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="${gw}/v1/messages" enctype="text/plain" target="sink">
<input type="hidden" name='${name.replace(/'/g, '&#39;')}' value='"}'></form>
<pre id="out"></pre>
<script>
const out = [];
const say = (k, v) => { out.push(k + ': ' + v); document.getElementById('out').textContent = out.join('\\n'); };
async function attempt(k, url, init) {
  try {
    const r = await fetch(url, init);
    let t = '';
    try { t = await r.text(); } catch (e) { t = 'unreadable'; }
    say(k, (r.type === 'opaque' ? 'opaque' : r.status) + ' ' + t.slice(0, 200));
  } catch (e) { say(k, 'failed ' + e.message); }
}
document.getElementById('f').submit();
(async () => {
  await attempt('text_plain', '${gw}/v1/messages', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(json)} });
  await attempt('rebind', '${rebind}/v1/messages', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(json)} });
  await attempt('json_cors', '${gw}/v1/messages', { method: 'POST', headers: { 'Content-Type': 'application/json', 'anthropic-version': '2023-06-01' }, body: ${JSON.stringify(json)} });
  say('done', 1);
})();
</script></body></html>`;
}

let pageServer, pagePort, gwPortForPage;
before(async () => {
  if (skip) return;
  pageServer = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page(gwPortForPage));
  });
  await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
  pagePort = pageServer.address().port;
});
after(() => {
  pageServer?.closeAllConnections();
  pageServer?.close();
});

function runChromium(url) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-chromium-'));
  return new Promise((resolve) => {
    execFile(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
        '--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1', '--virtual-time-budget=8000', '--dump-dom', url],
      { timeout: 90000, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        fs.rmSync(profile, { recursive: true, force: true });
        resolve({ dom: stdout ?? '', err, stderr });
      },
    );
  });
}

async function scenario(args) {
  const be = await startBackend(turn({ text: ['MODEL ANSWER'], finish: 'stop' }));
  const gw = await startGateway({ backend: be.url, model: 'm', args });
  try {
    gwPortForPage = gw.port;
    const r = await runChromium(`http://localhost:${pagePort}/`);
    const out = (/<pre id="out">([\s\S]*?)<\/pre>/.exec(r.dom)?.[1] ?? '').replace(/&quot;/g, '"');
    assert.match(out, /done: 1/, `the page ran to the end: ${r.dom.slice(0, 500)} ${r.stderr?.slice(-500)}`);
    return { out, upstream: be.chatRequests().length, stderr: gw.stderr };
  } finally {
    await gw.stop();
    await be.close();
  }
}

test('a web page cannot drive the gateway: form POST, text/plain fetch, rebinding Host, CORS fetch', { skip }, async () => {
  const r = await scenario([]);
  assert.equal(r.upstream, 0, `nothing reached the model; the page saw:\n${r.out}`);
  assert.doesNotMatch(r.out, /MODEL ANSWER/);
  assert.match(r.out, /json_cors: failed/, 'the CORS fetch was not allowed');
});

test('control: with the page\'s origin allowed, its CORS fetch gets the model answer (and nothing else gets through)', { skip }, async () => {
  const r = await scenario(['--allowed-origins', `http://localhost:${pagePort}`]);
  assert.match(r.out, /json_cors: 200 .*MODEL ANSWER/, `the allowed page read the answer:\n${r.out}`);
  assert.equal(r.upstream, 1, `only the JSON request reached the model; the page saw:\n${r.out}`);
});
