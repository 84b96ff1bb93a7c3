/**
 * Test certificate authorities for the TLS tests, made with the `openssl` command (P-256 keys,
 * valid for a day): a CA, server certificates for 127.0.0.1/localhost and trainer client
 * certificates, as PEM files in a folder of the test's.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Whether the `openssl` command is there (the TLS tests need it to make their certificates). */
export function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const openssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];

/** A self-signed CA `name` in `dir` (`<name>-ca.pem`, `<name>-ca.key`). */
export function makeCa(dir: string, name: string): CertFiles {
  const out = { cert: join(dir, `${name}-ca.pem`), key: join(dir, `${name}-ca.key`) };
  openssl(['req', '-x509', '-new', ...NEW_KEY, '-keyout', out.key, '-out', out.cert, '-subj', `/CN=${name} test CA`]);
  return out;
}

/**
 * A certificate issued by `ca` to `subject` (e.g. `/CN=eu-node`, `/O=acme` for one without CN),
 * for a server on 127.0.0.1 and localhost or for a trainer (client), written to `out`
 * (default `<dir>/<file>.pem` and `.key`).
 */
export function issue(ca: CertFiles, o: { dir: string; file: string; subject: string; serial: number; use: 'server' | 'client'; key?: string }): CertFiles {
  const out = { cert: join(o.dir, `${o.file}.pem`), key: o.key ?? join(o.dir, `${o.file}.key`) };
  const ext =
    o.use === 'server'
      ? ['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth']
      : ['-addext', 'extendedKeyUsage=clientAuth'];
  // with an existing key (`key`), the new certificate is for that key
  const keyArgs = o.key === undefined ? [...NEW_KEY, '-keyout', out.key] : ['-key', o.key, '-days', '1'];
  openssl([
    'req', '-x509', '-new', ...keyArgs, '-out', out.cert, '-subj', o.subject,
    '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(o.serial),
    '-addext', 'basicConstraints=critical,CA:FALSE', ...ext,
  ]);
  return out;
}

/** The SHA-256 fingerprint of a PEM certificate file, lower-case hex without colons (as the node logs it). */
export function fingerprintOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256.replace(/:/g, '').toLowerCase();
}
