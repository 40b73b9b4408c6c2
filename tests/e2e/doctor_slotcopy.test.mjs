// doctor, llamacpp mode: says whether llama-server can save and restore
// slots (--slot-save-path), which the gateway uses to fill empty slots with
// a copy of the slot that just ran instead of prefilling (issue 11). Asked
// with a file name llama-server refuses: 400 when on, 501 when off.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BIN, CLAUDE, makeSandbox, missingPrereq, e2eScope } from '../lib/claude_code.mjs';

const { children, cleanups } = e2eScope();

test('doctor: llama.cpp slot copy on with --slot-save-path, a note without', { timeout: 60_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const sb = makeSandbox('doctor-slotcopy');
  cleanups.push(() => sb.cleanup());
  for (const canSave of [true, false]) {
    const saves = [];
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const send = (status, o) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(o));
        if (req.url === '/v1/models') return send(200, { data: [{ id: 'm' }] });
        if (req.url === '/props') return send(200, { total_slots: 2, endpoint_slots: true, default_generation_settings: { n_ctx: 65536 } });
        if (req.method === 'POST' && req.url === '/slots/0?action=save') {
          saves.push(Buffer.concat(chunks).toString('utf8'));
          return canSave ? send(400, { error: { code: 400, message: 'Invalid filename' } }) : send(501, { error: { code: 501, message: 'This server does not support slots action.' } });
        }
        res.writeHead(404).end();
      });
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const url = `http://127.0.0.1:${srv.address().port}/v1`;
    const r = await children.run(BIN, ['doctor', '--mode', 'llamacpp', '--backend', url, '--claude', CLAUDE], { cwd: sb.work, env: sb.env, timeoutMs: 50_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(saves.length, 1, out);
    assert.match(JSON.parse(saves[0]).filename, /\.\./, 'a name llama-server refuses: nothing is written');
    if (canSave) assert.match(out, /\[ ok \] llama\.cpp slot copy: on \(--slot-save-path\)/, out);
    else assert.match(out, /\[ -- \] llama\.cpp slot copy: off \(HTTP 501\).*--slot-save-path DIR/, out);
  }
});
