import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA plus a server and a client certificate for 127.0.0.1, made with openssl. */
export interface TlsFiles extends Disposable {
  readonly caFile: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** Creates {@link TlsFiles} in a temporary directory (removed on dispose). */
export function createTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'flagsmith-rt-tls-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
  );
  writeFileSync(path('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who}`,
      '-keyout',
      path(`${who}.key`),
      '-out',
      path(`${who}.csr`),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${who}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      path('san.ext'),
      '-out',
      path(`${who}.pem`),
    );
  }
  return {
    caFile: path('ca.pem'),
    serverCert: path('server.pem'),
    serverKey: path('server.key'),
    clientCert: path('client.pem'),
    clientKey: path('client.key'),
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}
