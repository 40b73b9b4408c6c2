// http: what every scripted backend shares (node: only, no dependencies):
// one body reader, one JSON reply, and a listener that tracks its sockets so
// close() ends keep-alive connections too.
//
//   const raw = await readBody(req);          // Buffer, once the body ended
//   parseJson(text)                           // the value, or undefined
//   sendJson(res, status, obj, headers)       // JSON.stringify(obj), or a string as is
//   const l = await listen(server, { port, host }); l.port, l.sockets, await l.close()
//   const s = await serveHttp((req, res, raw) => ..., { port }); s.port, s.close()
//   readRawRequest(sock, (r) => ...)          // below HTTP: one request a connection

import http from 'node:http';

// The whole request body. Never rejects: a request whose body never ends
// (the client went away) leaves the promise pending, as a handler waiting
// for 'end' would.
export function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
}

export function parseJson(text) {
  if (!text || !text.length) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

// Listen on host:port (0: any free port); every raw connection is tracked so
// close() can destroy keep-alive and half-open ones. close() is idempotent.
export async function listen(server, { port = 0, host = '127.0.0.1' } = {}) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  let closing = null;
  return {
    port: server.address().port,
    sockets,
    close() {
      if (!closing) {
        closing = new Promise((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
      }
      return closing;
    },
  };
}

// An HTTP server on loopback whose handler gets each request with its whole
// body (a Buffer) read.
export async function serveHttp(handler, opts = {}) {
  const server = http.createServer(async (req, res) => handler(req, res, await readBody(req)));
  return { server, ...(await listen(server, opts)) };
}

// For servers below HTTP (net.Server): read the first request on sock (its
// head, then Content-Length bytes of body) and hand it over once as
// { head, method, path, headers (lower-case names), body (Buffer) }; later
// bytes on that connection are ignored. Socket errors are ignored too.
export function readRawRequest(sock, onRequest) {
  sock.on('error', () => {});
  let buf = Buffer.alloc(0);
  let done = false;
  sock.on('data', (d) => {
    if (done) return;
    buf = Buffer.concat([buf, d]);
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return;
    const head = buf.subarray(0, he).toString('latin1');
    const lines = head.split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) {
      const k = l.indexOf(':');
      if (k > 0) headers[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim();
    }
    const want = Number(headers['content-length'] ?? 0) || 0;
    if (buf.length < he + 4 + want) return;
    done = true;
    const [method, path] = lines[0].split(' ');
    onRequest({ head, method, path, headers, body: buf.subarray(he + 4, he + 4 + want) });
  });
}
