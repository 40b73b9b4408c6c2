// tls: a throwaway self-signed certificate for 127.0.0.1 / localhost, made
// with the openssl command-line tool in a fresh temp directory (removed when
// the process exits).
//
//   const { key, cert, caFile, dir } = makeSelfSignedCert();
//   https.createServer({ key, cert }, ...)   // key, cert: PEM strings
//   anyclaude ... --ca-file caFile            // the certificate is its own CA
//
// The certificate is a CA (basicConstraints CA:TRUE) so that it can be
// trusted directly as a CA bundle, and it names the test host in
// subjectAltName (IP:127.0.0.1, DNS:localhost), which is what TLS clients
// check, not the CN.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function makeSelfSignedCert({ cn = 'anyclaude-test', days = 2 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const caFile = path.join(dir, 'ca.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256',
      '-days', String(days),
      '-keyout', keyFile,
      '-out', certFile,
      '-subj', `/CN=${cn}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
      '-addext', 'extendedKeyUsage=serverAuth',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  fs.copyFileSync(certFile, caFile);
  return {
    key: fs.readFileSync(keyFile, 'utf8'),
    cert: fs.readFileSync(certFile, 'utf8'),
    keyFile,
    certFile,
    caFile,
    dir,
  };
}
