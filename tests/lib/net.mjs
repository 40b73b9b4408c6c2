// net: ports and waiting, for every suite and for bench/ (node: only, no
// dependencies).
//
//   await freePort()                  a loopback port nobody listens on now
//   await canConnect(port, host)      true when a TCP connect succeeds
//   await waitPort(port, ms, isDead)  until it accepts, false on timeout/death
//   await waitFor(fn, what, ms, step) until fn() is truthy; throws on timeout
//   await sleep(ms)
//   await sendRaw(port, bytes, until)  write bytes on a new connection, read to 'end' or 'close'

import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nobody listens on right now (bound then released). Someone else may
// take it before the caller binds it: launchers retry on "address in use".
// Never the same port twice in one process: a test that keeps a port free on
// purpose (a backend that refuses) must not see its gateway handed the same
// number by the next call, which the kernel may do once the first is closed.
const given = new Set();
export async function freePort() {
  for (let i = 0; ; i++) {
    const port = await probePort();
    if (!given.has(port) || i >= 50) {
      given.add(port);
      return port;
    }
  }
}

function probePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// Wait until a TCP port accepts connections; false when isDead() says the
// process that should listen is gone, or on timeout.
export async function waitPort(port, timeoutMs, isDead = () => false) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead()) return false;
    if (await canConnect(port)) return true;
    await sleep(50);
  }
  return false;
}

// Poll fn() until it returns a truthy value or the deadline passes; returns
// the value, or throws with `what` in the message.
export async function waitFor(fn, what = 'condition', timeoutMs = 10000, stepMs = 25) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// Write `bytes` on a new loopback connection to port; resolves with all that
// came back once the peer ends its side (until 'end') or the socket closed
// (until 'close'); rejects on a socket error.
export function sendRaw(port, bytes, until = 'close') {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d));
    s.on(until, () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}
