// Pre-auth exhaustion, measured (issue 13, "What it must show" item 4):
// - with --auth-token, one connection that pipelines 300 MB of
//   unauthenticated requests and never reads its answers leaves the
//   gateway's RSS (peak, VmHWM) under 64 MB: it stops reading a connection
//   whose replies are not read, and caps buffered input;
// - under `ulimit -n 100`, 150 idle connections make the gateway use under
//   5% CPU and write under 100 log lines over 5 s (it used to spin on
//   EMFILE and log ~975,000 lines), and it serves a request once they close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { startBackend, turn, waitFor } from '../lib/openai_backend.mjs';
import { startGateway, freePort, BIN, ROOT } from '../lib/gateway.mjs';
import { DEADLINE, IS_ASAN, sleep, vmHWM, connect, rawExchange } from '../lib/fault.mjs';

test('300 MB of pipelined unauthenticated requests on a connection that never reads: RSS stays under 64 MB', async (t) => {
  const be = await startBackend(turn({ text: ['x'], finish: 'stop' }));
  const gw = await startGateway({ backend: be.url, model: 'm', args: ['--auth-token', 'flood-token-123'] });
  try {
    const one = Buffer.from(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nX-Pad: ${'p'.repeat(900)}\r\n\r\n`);
    const block = Buffer.concat(Array.from({ length: Math.ceil((1 << 20) / one.length) }, () => one));
    const s = await connect(gw.port);
    s.on('error', () => {});
    s.pause(); // never read the answers
    const TOTAL = 300 * (1 << 20);
    let sent = 0;
    const t0 = Date.now();
    // write with backpressure; give up when the gateway has stopped reading
    // for 3 s (it should: its replies are not being read)
    while (sent < TOTAL && Date.now() - t0 < 30000) {
      if (!s.write(block)) {
        const drained = await Promise.race([new Promise((r) => s.once('drain', () => r(true))), sleep(3000).then(() => false)]);
        if (!drained) break;
      }
      sent += block.length;
    }
    await sleep(500);
    const hwm = vmHWM(gw.child.pid);
    t.diagnostic(`pipelined flood: ${(sent / 1048576).toFixed(0)} MB written before the gateway stopped reading, VmHWM ${hwm} kB`);
    s.destroy();
    // the same 300 MB from a client that does read its 401s: all of it is
    // taken, and memory stays as flat
    const r = await connect(gw.port);
    r.on('error', () => {});
    let got = 0;
    r.on('data', (d) => (got += d.length));
    let sent2 = 0;
    const t1 = Date.now();
    // (under ASan, freed memory sits in its quarantine: a shorter run, and
    // only the no-reader peak is checked there)
    const TOTAL2 = IS_ASAN ? 32 * (1 << 20) : TOTAL;
    while (sent2 < TOTAL2 && Date.now() - t1 < 60000) {
      if (!r.write(block)) await new Promise((res) => r.once('drain', res));
      sent2 += block.length;
    }
    await waitFor(() => got >= (sent2 / one.length) * 200, 'the answers to the reading client', 60000, 50).catch(() => {});
    r.destroy();
    const hwm2 = vmHWM(gw.child.pid);
    t.diagnostic(`reading client: ${(sent2 / 1048576).toFixed(0)} MB sent in ${Date.now() - t1} ms, ${(got / 1048576).toFixed(0)} MB of answers, VmHWM ${hwm2} kB`);
    const limit = IS_ASAN ? 192 * 1024 : 64 * 1024; // ASan's shadow memory and quarantine add their own
    assert.ok(hwm < limit, `peak RSS ${hwm} kB with a client that does not read`);
    if (!IS_ASAN) assert.ok(hwm2 < limit, `peak RSS ${hwm2} kB with a client that reads`);
    // still serving
    const x = await rawExchange(gw.port, async (c) => c.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n\r\n`), { until: (rs) => rs.length >= 1 });
    assert.equal(x.responses[0]?.status, 200);
  } finally {
    await gw.stop();
    await be.close();
  }
});

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return +rest[11] + +rest[12]; // utime + stime, in clock ticks (1/100 s)
}

test('under ulimit -n 100, 150 connections: under 5% CPU and 100 log lines, then it serves again', async (t) => {
  const be = await startBackend(turn({ text: ['x'], finish: 'stop' }));
  const port = await freePort();
  const child = spawn('sh', ['-c', `ulimit -n 100 && exec "$0" "$@"`, BIN, 'serve', '--port', String(port), '--mode', 'openai', '--backend', be.url, '--model', 'm'], {
    cwd: ROOT,
    env: { ...process.env, ANYCLAUDE_DEBUG: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  child.stdout.on('data', (d) => (log += d));
  const socks = [];
  try {
    await waitFor(() => log.includes('listening'), 'the gateway to listen', DEADLINE);
    const linesBefore = log.split('\n').length;
    for (let i = 0; i < 150; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
    }
    await sleep(500);
    const c0 = cpuTicks(child.pid);
    await sleep(5000);
    const ticks = cpuTicks(child.pid) - c0;
    const lines = log.split('\n').length - linesBefore;
    t.diagnostic(`ulimit -n 100, 150 connections: ${ticks} ticks of CPU in 5 s (${ticks / 5}%), ${lines} log lines`);
    assert.ok(ticks < 25, `CPU ${ticks / 5}% over 5 s`);
    assert.ok(lines < 100, `${lines} log lines:\n${log.slice(-500)}`);
    for (const s of socks) s.destroy();
    const x = await waitFor(async () => {
      const r = await rawExchange(port, async (c) => c.write(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`), { until: (rs) => rs.length >= 1, timeoutMs: 3000 }).catch(() => null);
      return r?.responses[0]?.status === 200 ? r : null;
    }, 'a request served after the connections closed', DEADLINE, 200);
    assert.equal(x.responses[0].status, 200);
  } finally {
    for (const s of socks) s.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await be.close();
  }
});
