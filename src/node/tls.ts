/**
 * TLS of the trainer API: the certificate, key and client CA read from the operator's files
 * (`mpc-node start --tls-cert --tls-key [--tls-client-ca]`), checked as a pair, reloaded when
 * the files change, and the trainer identity a verified client certificate carries (mTLS).
 *
 * The rule of when TLS is required (an API that listens beyond loopback) is
 * {@link requireTlsBeyondLoopback}; src/node/trainer-api.ts applies it and serves HTTPS with
 * {@link ServerTls}. Nothing here logs or returns key material: events carry the certificate's
 * serial, SHA-256 fingerprint and expiry only.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'node:https';
import { ConfigError, MpcError } from '../errors.js';
import { isLoopbackHost } from '../federation/index.js';

/** The files of the trainer API's TLS, as given on the command line. */
export interface TlsPaths {
  /** PEM certificate chain, leaf first (`--tls-cert`). */
  readonly cert: string;
  /** PEM private key of the leaf (`--tls-key`). */
  readonly key: string;
  /** PEM CA certificate(s) that client certificates must verify against (`--tls-client-ca`): turns on mTLS. */
  readonly clientCa?: string;
}

/** The public facts of the certificate being served, for logs and tests. */
export interface CertificateFacts {
  /** Serial number, upper-case hex as OpenSSL prints it. */
  readonly serial: string;
  /** SHA-256 fingerprint of the DER certificate, lower-case hex without colons. */
  readonly sha256: string;
  /** End of validity, ISO 8601. */
  readonly notAfter: string;
}

/** One loaded, checked set of TLS files. */
interface TlsMaterial {
  readonly files: { cert: Buffer; key: Buffer; ca?: Buffer };
  readonly facts: CertificateFacts;
}

/** Quiet time after the last change in a watched folder before the files are read again. */
const SETTLE_MS = 150;

/** `(event) => void`, the node's structured log (src/node/logger.ts). */
type EventSink = (event: Record<string, unknown>) => void;

/**
 * Throws unless a trainer API on `host` may serve plain HTTP: only loopback may.
 * @throws {ConfigError} CONFIG_TLS_REQUIRED naming the flags to add.
 */
export function requireTlsBeyondLoopback(host: string, tls: ServerTls | undefined): void {
  if (tls !== undefined || isLoopbackHost(host)) return;
  throw new ConfigError(
    'CONFIG_TLS_REQUIRED',
    `the trainer API would listen on ${JSON.stringify(host)} (beyond loopback) in plain HTTP, so updates and tokens would cross the network in clear: ` +
      'start the node with --tls-cert PATH --tls-key PATH (and --tls-client-ca PATH for client certificates)',
  );
}

/** A file's bytes. @throws {ConfigError} CONFIG_INVALID naming the flag and the errno code. */
async function readTlsFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new ConfigError('CONFIG_INVALID', `${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
}

/** The first certificate of a PEM file. @throws {ConfigError} CONFIG_INVALID naming the flag. */
function firstCertificate(pem: Buffer, path: string, flag: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('CONFIG_INVALID', `${flag} ${path}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`);
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new ConfigError('CONFIG_INVALID', `${flag} ${path}: not a valid X.509 certificate (${(e as NodeJS.ErrnoException).code ?? 'parse error'})`, { cause: e });
  }
}

/**
 * Reads and checks the files: each certificate parses, the leaf is within its validity, and the
 * key is the leaf's (OpenSSL builds a secure context from them, as the server will).
 * @throws {ConfigError} CONFIG_INVALID naming the flag and what is wrong (never the key's bytes).
 */
async function loadTlsMaterial(paths: TlsPaths, now = Date.now()): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readTlsFile(paths.cert, '--tls-cert'),
    readTlsFile(paths.key, '--tls-key'),
    paths.clientCa === undefined ? undefined : readTlsFile(paths.clientCa, '--tls-client-ca'),
  ]);
  const leaf = firstCertificate(cert, paths.cert, '--tls-cert');
  if (ca !== undefined) firstCertificate(ca, paths.clientCa!, '--tls-client-ca');
  if (Date.parse(leaf.validTo) < now) throw new ConfigError('CONFIG_INVALID', `--tls-cert ${paths.cert}: the certificate expired on ${new Date(leaf.validTo).toISOString()}`);
  if (!key.includes('PRIVATE KEY-----')) throw new ConfigError('CONFIG_INVALID', `--tls-key ${paths.key}: no PEM private key in it (expected "-----BEGIN ... PRIVATE KEY-----")`);
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' ? 'the key is not the certificate’s key' : `OpenSSL refused them (${code ?? 'error'})`;
    throw new ConfigError('CONFIG_INVALID', `--tls-cert ${paths.cert} and --tls-key ${paths.key}: ${why}`, { cause: e });
  }
  const facts = { serial: leaf.serialNumber, sha256: leaf.fingerprint256.replace(/:/g, '').toLowerCase(), notAfter: new Date(leaf.validTo).toISOString() };
  return { files: { cert, key, ...(ca ? { ca } : {}) }, facts };
}

const sameFiles = (a: TlsMaterial['files'], b: TlsMaterial['files']): boolean =>
  a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));

/**
 * The trainer API's TLS: the files as loaded at start, the HTTPS server options made from them,
 * and the reload when they change. A changed set is read whole (certificate, key and client CA
 * together) once the folders have been quiet for {@link SETTLE_MS}, checked as at start, and
 * only then handed to the server (`server.setSecureContext`), so the next handshake presents
 * the new certificate; a set that does not check out is logged (`tls-reload-failed`) and the
 * old one stays. The folders are watched, not the files, so files replaced by rename (and
 * Kubernetes' symlink swaps) are seen too.
 */
export class ServerTls {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();

  private constructor(
    private readonly paths: TlsPaths,
    private current: TlsMaterial,
    private readonly log: EventSink,
  ) {}

  /**
   * Reads and checks the files.
   * @throws {ConfigError} CONFIG_INVALID naming the flag of the file at fault.
   */
  static async load(paths: TlsPaths, log: EventSink = () => {}): Promise<ServerTls> {
    return new ServerTls(paths, await loadTlsMaterial(paths), log);
  }

  /** The certificate being served. */
  get certificate(): CertificateFacts {
    return this.current.facts;
  }

  /** Whether client certificates are requested (a client CA was given). */
  get mutual(): boolean {
    return this.paths.clientCa !== undefined;
  }

  /**
   * The options of `https.createServer`. With a client CA, a client certificate is requested but
   * not required at the handshake: a request without one may still bring a bearer token, and
   * one that does not verify is refused by {@link peerCertificateIdentity} with a JSON error.
   */
  serverOptions(): ServerOptions {
    return { ...this.current.files, ...(this.mutual ? { requestCert: true, rejectUnauthorized: false } : {}) };
  }

  /** Starts watching the files; `apply` gets each new checked set (for `server.setSecureContext`). */
  watch(apply: (o: SecureContextOptions) => void): void {
    const dirs = new Set([this.paths.cert, this.paths.key, ...(this.paths.clientCa ? [this.paths.clientCa] : [])].map((p) => dirname(p)));
    for (const dir of dirs) {
      const w = watch(dir, { persistent: false }, () => this.changed(apply));
      w.on('error', (e: NodeJS.ErrnoException) => this.log({ event: 'tls-watch-failed', dir, reason: e.code ?? 'error' }));
      this.watchers.push(w);
    }
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private changed(apply: (o: SecureContextOptions) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reloading = this.reloading.then(() => this.reload(apply));
    }, SETTLE_MS);
    this.timer.unref();
  }

  private async reload(apply: (o: SecureContextOptions) => void): Promise<void> {
    let next: TlsMaterial;
    try {
      next = await loadTlsMaterial(this.paths);
    } catch (e) {
      // a half-written rotation reads as a mismatched pair: the write of the other file retries
      this.log({ event: 'tls-reload-failed', reason: (e as Error).message, serving: this.current.facts });
      return;
    }
    if (sameFiles(next.files, this.current.files)) return;
    try {
      apply(next.files);
    } catch (e) {
      this.log({ event: 'tls-reload-failed', reason: `the server refused the new set (${(e as NodeJS.ErrnoException).code ?? 'error'})`, serving: this.current.facts });
      return;
    }
    this.current = next;
    this.log({ event: 'tls-reloaded', certificate: next.facts });
  }
}

/** The trainer a verified client certificate names. */
export interface CertificateIdentity {
  /** The subject's CN, else `sha256:<fingerprint hex>`. */
  readonly name: string;
  readonly role: 'trainer';
}

/**
 * The identity of the request's client certificate, if it brought one that verifies against
 * the node's client CA; undefined if it brought none (or the node asks for none).
 * @throws {MpcError} API_UNAUTHORIZED for a certificate that does not verify (another CA,
 *   expired, ...): it is refused, whatever else the request carries.
 */
export function peerCertificateIdentity(req: IncomingMessage): CertificateIdentity | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined; // plain HTTP
  const cert = socket.getPeerCertificate();
  if (Object.keys(cert).length === 0) return undefined;
  if (socket.authorized !== true) {
    const why = String(socket.authorizationError ?? '');
    throw new MpcError('API_UNAUTHORIZED', `client certificate refused (${/^[A-Z0-9_]{1,64}$/.test(why) ? why : 'does not verify'}): it must be issued by the node's --tls-client-ca`);
  }
  const cn = cert.subject?.CN;
  const name = typeof cn === 'string' && cn !== '' ? cn : `sha256:${cert.fingerprint256.replace(/:/g, '').toLowerCase()}`;
  return { name, role: 'trainer' };
}
