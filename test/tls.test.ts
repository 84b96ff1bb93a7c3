/**
 * src/node/tls.ts in this process: which TLS files start a node (each refusal names its flag and
 * never the key), the loopback rule, the client's TLS options and the TLS flags' usage errors.
 * The node processes over HTTPS are test/tls.multiprocess.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../src/client/index.js';
import { ServerTls, requireTlsBeyondLoopback } from '../src/node/tls.js';
import { runCli } from './support/cli.js';
import { fingerprintOf, haveOpenssl, issue, makeCa, type CertFiles } from './support/test-ca.js';

describe.runIf(haveOpenssl())('TLS files of the trainer API', () => {
  let dir: string;
  let ca: CertFiles;
  let a: CertFiles;
  let b: CertFiles;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpc-node-tls-unit-'));
    ca = makeCa(dir, 'unit');
    a = issue(ca, { dir, file: 'a', subject: '/CN=a', serial: 0xa, use: 'server' });
    b = issue(ca, { dir, file: 'b', subject: '/CN=b', serial: 0xb, use: 'server' });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads a matching pair and reports its serial, fingerprint and expiry; with a client CA it asks for client certificates', async () => {
    const tls = await ServerTls.load({ cert: a.cert, key: a.key });
    expect(tls.certificate).toMatchObject({ serial: '0A', sha256: fingerprintOf(a.cert) });
    expect(Date.parse(tls.certificate.notAfter)).toBeGreaterThan(Date.now());
    expect(tls.serverOptions()).not.toHaveProperty('requestCert');
    const mutual = await ServerTls.load({ cert: a.cert, key: a.key, clientCa: ca.cert });
    expect(mutual.mutual).toBe(true);
    expect(mutual.serverOptions()).toMatchObject({ requestCert: true, rejectUnauthorized: false });
  });

  it('refuses a key that is not the certificate’s, a missing file and a file that is not PEM, naming the flag and never the key', async () => {
    const refusal = async (paths: Parameters<typeof ServerTls.load>[0]) => (await ServerTls.load(paths).catch((e: unknown) => e)) as Error & { code: string };
    const mismatch = await refusal({ cert: a.cert, key: b.key });
    expect(mismatch).toMatchObject({ code: 'CONFIG_INVALID', message: `--tls-cert ${a.cert} and --tls-key ${b.key}: the key is not the certificate’s key` });
    expect(await refusal({ cert: a.cert, key: join(dir, 'absent.key') })).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^--tls-key \S+absent\.key: cannot read it \(ENOENT\)$/) });
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate');
    expect(await refusal({ cert: garbage, key: a.key })).toMatchObject({ message: expect.stringContaining('--tls-cert') });
    expect(await refusal({ cert: a.cert, key: a.key, clientCa: garbage })).toMatchObject({ message: expect.stringMatching(/^--tls-client-ca .*no PEM certificate/) });
    // a certificate given as the key
    const asKey = await refusal({ cert: a.cert, key: a.cert });
    expect(asKey.message).toMatch(/^--tls-key .*no PEM private key/);
  });

  it('plain HTTP is allowed on loopback only', async () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(() => requireTlsBeyondLoopback(host, undefined)).not.toThrow();
    for (const host of ['0.0.0.0', '10.0.0.7', '::', 'mpc.eu.example.com']) {
      expect(() => requireTlsBeyondLoopback(host, undefined)).toThrow(expect.objectContaining({ code: 'CONFIG_TLS_REQUIRED', message: expect.stringContaining('--tls-cert PATH --tls-key PATH') }));
    }
    expect(() => requireTlsBeyondLoopback('0.0.0.0', {} as ServerTls)).not.toThrow();
  });
});

describe('TLS options of the client and the TLS flags of start', () => {
  it('the client takes ca, cert and key for https: URLs only, cert and key together, and names a file it cannot read', async () => {
    const update = Float32Array.of(1);
    await expect(aggregate({ node: 'http://127.0.0.1:1', token: 't', round: 'r', update, ca: 'x.pem' })).rejects.toThrow(new TypeError('"ca" apply to an https: node URL, got http:'));
    await expect(aggregate({ node: 'https://127.0.0.1:1', token: 't', round: 'r', update, cert: '-----BEGIN CERTIFICATE-----' })).rejects.toThrow(new TypeError('"cert" and "key" go together'));
    await expect(aggregate({ node: 'https://127.0.0.1:1', token: 't', round: 'r', update, ca: '/nonexistent/ca.pem' })).rejects.toThrow(
      new TypeError('"ca": cannot read /nonexistent/ca.pem (ENOENT); give PEM text or the path of a PEM file'),
    );
  });

  it('half a set of TLS flags is a usage error naming the missing flag', async () => {
    const base = ['start', '--region', 'eu', '--config', '/nonexistent/federation.json'];
    const cases: [string[], string][] = [
      [['--tls-cert', 'c.pem'], '--tls-cert needs --tls-key PATH'],
      [['--tls-key', 'k.pem'], '--tls-key needs --tls-cert PATH'],
      [['--tls-client-ca', 'ca.pem'], '--tls-client-ca needs --tls-cert PATH and --tls-key PATH too'],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli([...base, ...flags]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});
