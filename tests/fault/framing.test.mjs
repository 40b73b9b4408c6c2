// Differential test of httpd's request framing (src/h1.c, run through
// build/h1check) against Node's own HTTP parser (llhttp, strict: no
// insecureHTTPParser, Host required). The same corpus of framings
// (tests/golden/h1/*.http, which also seeds the h1 fuzz target) goes to
// both; each must give the same verdict (accepted, incomplete, refused)
// and, when accepted, the same requests with the same body bytes.
// Where anyclaude is deliberately stricter than llhttp, the case is listed
// in STRICTER with the rule that asks for it, and the test checks that the
// difference is still only that one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../lib/gateway.mjs';

const DIR = path.join(ROOT, 'tests/golden/h1');
const CHECK = path.join(ROOT, 'build/h1check');

// anyclaude refuses, llhttp accepts:
const STRICTER = {
  'bad_two_hosts.http': 'RFC 9112 §3.2: more than one Host field line is a 400',
  'bad_te_http10.http': 'RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing',
  'bad_te_list.http': 'codings other than chunked are not supported (501), RFC 9112 §6.1',
  'bad_two_spaces.http': 'RFC 9112 §3: the request line has single spaces',
  'bad_version_20.http': 'only HTTP/1.0 and HTTP/1.1 are served on HTTP/1.x connections (505)',
};

let server, port, cur;
before(async () => {
  if (!fs.existsSync(CHECK)) execFileSync('make', ['-s', 'build/h1check'], { cwd: ROOT, stdio: 'inherit' });
  server = http.createServer({ insecureHTTPParser: false, requireHostHeader: true, keepAliveTimeout: 2000 });
  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      cur.requests.push({ method: req.method, target: req.url, body: Buffer.concat(chunks).toString('hex') });
      res.end('ok');
    });
  });
  server.on('clientError', (e, sock) => {
    cur.error = e.code;
    sock.destroy();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  port = server.address().port;
});
after(() => server?.close());

// llhttp's verdict: send the bytes, half-close, collect.
async function node(bytes) {
  cur = { requests: [], error: null, raw: '' };
  await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(bytes);
      setTimeout(() => s.end(), 30);
    });
    s.setEncoding('latin1');
    s.on('data', (d) => (cur.raw += d));
    s.on('error', () => {});
    s.on('close', resolve);
    setTimeout(() => {
      s.destroy();
      resolve();
    }, 3000);
  });
  // node answers a missing Host itself (400), without a clientError
  const selfRefused = /^HTTP\/1\.1 4\d\d/.test(cur.raw) || /\r\n\r\nHTTP\/1\.1 4\d\d/.test(cur.raw);
  const verdict = cur.error === 'HPE_INVALID_EOF_STATE' ? 'incomplete' : cur.error || selfRefused ? 'refused' : 'accepted';
  return { verdict, requests: cur.requests, why: cur.error };
}

function ours(bytes) {
  const r = JSON.parse(execFileSync(CHECK, { input: bytes }));
  const verdict = r.verdict === 0 ? 'accepted' : r.verdict === 1 ? 'incomplete' : 'refused';
  return { verdict, requests: verdict === 'accepted' ? r.requests : [], why: `${r.verdict} ${r.error}` };
}

test('httpd and llhttp agree on every framing of the corpus (verdict and body bytes)', async () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.http')).sort();
  assert.ok(files.length >= 50, 'the corpus is there');
  const diffs = [];
  let accepted = 0, refused = 0;
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(DIR, f));
    const a = ours(bytes);
    const b = await node(bytes);
    if (b.verdict !== 'accepted') b.requests = [];
    accepted += a.verdict === 'accepted';
    refused += a.verdict === 'refused';
    const same = a.verdict === b.verdict && JSON.stringify(a.requests) === JSON.stringify(b.requests);
    if (STRICTER[f]) {
      if (!(a.verdict === 'refused' && b.verdict === 'accepted'))
        diffs.push(`${f}: listed as stricter than llhttp, but anyclaude ${a.verdict} (${a.why}), llhttp ${b.verdict}`);
      continue;
    }
    if (!same) diffs.push(`${f}: anyclaude ${a.verdict} (${a.why}) ${JSON.stringify(a.requests)}; llhttp ${b.verdict} (${b.why}) ${JSON.stringify(b.requests)}`);
    // the file name says what the case should be
    const want = f.startsWith('ok_') ? 'accepted' : f.startsWith('bad_') ? 'refused' : 'incomplete';
    if (a.verdict !== want) diffs.push(`${f}: expected ${want}, anyclaude says ${a.verdict} (${a.why})`);
  }
  assert.deepEqual(diffs, []);
  assert.ok(accepted >= 10 && refused >= 30, `both kinds covered: ${accepted} accepted, ${refused} refused`);
});
