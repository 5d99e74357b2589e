/**
 * A client certificate named by file in the kubeconfig is rotated without a
 * restart: when the files change, new connections present the new pair. A
 * test HTTPS server on 127.0.0.1 that requires client certificates answers
 * with the Common Name it saw. Certificates are made with openssl.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { CERT_FILE_CHECK_MS, ClusterAccess } from '../../../src/kube/access.ts';
import { KubeClient } from '../../../src/kube/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'kanary-cert-rotation-'));
const at = (f: string) => join(dir, f);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** a CA, a server certificate for 127.0.0.1 and client certificates "old" and "new", signed by the CA */
function makeCerts(): void {
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
    at('ca.key'),
    '-out',
    at('ca.crt'),
  );
  const sign = (name: string, cn: string, ext?: string) => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.csr`),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      at(`${name}.crt`),
      ...(ext ? ['-extfile', ext] : []),
    );
  };
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${at('san.ext')}`]);
  sign('server', '127.0.0.1', at('san.ext'));
  sign('old', 'old');
  sign('new', 'new');
}

describe('client certificate rotation', () => {
  let server: ReturnType<typeof createServer>;
  let url = '';
  before(async () => {
    makeCerts();
    server = createServer(
      {
        key: readFileSync(at('server.key')),
        cert: readFileSync(at('server.crt')),
        ca: readFileSync(at('ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cn }));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('new connections present the new certificate once the files changed; a half-written pair keeps the old one', async () => {
    const install = (cert: string, key: string) => {
      copyFileSync(at(cert), at('client.crt'));
      copyFileSync(at(key), at('client.key'));
    };
    install('old.crt', 'old.key');
    let clock = 1_000_000;
    const access = new ClusterAccess(
      {
        context: 't',
        server: url,
        caFile: at('ca.crt'),
        certFile: at('client.crt'),
        keyFile: at('client.key'),
      },
      () => clock,
    );
    const errors: string[] = [];
    access.onCertError = (err) => errors.push(err.message);
    const client = new KubeClient(access);
    const cn = async () => (await client.get<{ cn: string }>('/whoami')).cn;
    assert.equal(await cn(), 'old');

    install('new.crt', 'new.key');
    assert.equal(await cn(), 'old', 'the files are checked only every CERT_FILE_CHECK_MS');
    clock += CERT_FILE_CHECK_MS;
    assert.equal(await cn(), 'new', 'the rotated certificate is used without a restart');

    // the certificate written before its key: not a pair, so the last good pair stays in use
    copyFileSync(at('old.crt'), at('client.crt'));
    clock += CERT_FILE_CHECK_MS;
    assert.equal(await cn(), 'new');
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /client\.crt .*changed but cannot be used \(keeping the previous pair\)/);
    copyFileSync(at('old.key'), at('client.key'));
    clock += CERT_FILE_CHECK_MS;
    assert.equal(await cn(), 'old', 'the completed pair is picked up at the next check');
  });
});
