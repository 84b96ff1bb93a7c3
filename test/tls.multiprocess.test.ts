/**
 * The trainer API over HTTPS against real node processes (issue 10 item 14): certificates made
 * with `openssl` (test/support/test-ca.ts), a trainer reaching a node bound to 0.0.0.0 over
 * HTTPS, a plain-HTTP API beyond loopback refused at start, certificate rotation without a
 * restart, and client certificates (mTLS) as trainer credentials. Needs the built CLI (npm test
 * builds it first). Binds 127.0.0.1 and 0.0.0.0 only and calls 127.0.0.1 only.
 */
import { readFile, writeFile, copyFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';
import { fingerprintOf, haveOpenssl, issue, makeCa, type CertFiles } from './support/test-ca.js';

const fx = useFederations('mpc-node-tls-');
const IDS = ['eu', 'us'];
const ROUND = { collectMs: 300, phaseTimeoutMs: 3000, roundTimeoutMs: 30_000, clipL2: 1e4 };

/** The eu node's API over HTTPS (the federation file still says 127.0.0.1 or 0.0.0.0: the node's port is on loopback either way). */
const httpsApi = (fed: LocalFederation): string => `https://127.0.0.1:${fed.regions.find((r) => r.id === 'eu')!.apiPort}`;

/** A two-region federation in a fresh folder; with `euHost`, eu's API listens there (allowRemoteTrainers). */
async function federation(euHost?: string): Promise<LocalFederation> {
  const fed = await fx.federation(IDS, { threshold: 2, round: ROUND });
  if (euHost !== undefined) {
    const file = JSON.parse(await readFile(fed.config, 'utf8')) as { regions: { id: string; api: Record<string, unknown> }[] };
    Object.assign(file.regions.find((r) => r.id === 'eu')!.api, { host: euHost, allowRemoteTrainers: true });
    await writeFile(fed.config, JSON.stringify(file, null, 2));
  }
  return fed;
}

/** Starts eu with `euArgs` and us in plain loopback HTTP, and waits until they are linked. */
async function start(fed: LocalFederation, euArgs: string[], ca: string): Promise<NodeProcess> {
  const [eu, us] = await Promise.all([startNodeProcess(fed, 'eu', {}, [], euArgs), startNodeProcess(fed, 'us')]);
  fx.procs.push(eu!, us!);
  for (const deadline = Date.now() + 15_000; ; ) {
    const h = await get(`${httpsApi(fed)}/healthz`, { ca }).catch(() => undefined);
    if (h?.status === 200 && (JSON.parse(h.body) as { peersConnected: string[] }).peersConnected.includes('us')) return eu!;
    if (Date.now() > deadline) throw new Error('eu did not link to us in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One HTTPS request on a fresh connection. */
function get(url: string, tls: { ca: string; cert?: string; key?: string; token?: string; method?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    void Promise.all([readFile(tls.ca), tls.cert ? readFile(tls.cert) : undefined, tls.key ? readFile(tls.key) : undefined]).then(([ca, cert, key]) => {
      const req = httpsRequest(
        url,
        {
          method: tls.method ?? 'GET', ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}), agent: false,
          headers: { ...(tls.token ? { authorization: `Bearer ${tls.token}` } : {}), ...(tls.method === 'POST' ? { 'content-type': 'application/octet-stream' } : {}) },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end(tls.method === 'POST' ? Buffer.from(Float32Array.of(1, 2).buffer) : undefined);
    }, reject);
  });
}

/** The SHA-256 fingerprint of the certificate the node presents on a new TLS handshake. */
function presented(url: string, ca: Buffer): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase();
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

/** Waits until the node logged an event matching `pred` (no timing asserted: a deadline for a hang only). */
async function logged(p: NodeProcess, pred: (e: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 15_000; ; ) {
    const e = p.logs.slice(from).find(pred);
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`no such log event; got ${p.logs.map((l) => l.event).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const token = (fed: LocalFederation, id: string): string => fed.regions.find((r) => r.id === id)!.token;
const plainApi = (fed: LocalFederation, id: string): string => fed.regions.find((r) => r.id === id)!.api;

/** The server CA and eu's certificate, in the federation's folder. */
function serverCerts(dir: string): { ca: CertFiles; eu: CertFiles } {
  const ca = makeCa(dir, 'server');
  return { ca, eu: issue(ca, { dir, file: 'eu-node', subject: '/CN=eu-node', serial: 0x1001, use: 'server' }) };
}

describe.runIf(haveOpenssl())('trainer API over HTTPS', () => {
  it('a trainer reaches a node bound to 0.0.0.0 over HTTPS with the CA file; the update counts', async () => {
    const fed = await federation('0.0.0.0');
    const { ca, eu: euCert } = serverCerts(fed.dir);
    const eu = await start(fed, ['--tls-cert', euCert.cert, '--tls-key', euCert.key], ca.cert);
    const listening = await logged(eu, (e) => e.event === 'listening' && e.api !== undefined);
    expect(listening.api).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    expect((listening.tls as { certificate: { sha256: string } }).certificate.sha256).toBe(fingerprintOf(euCert.cert));

    // without the CA the node's certificate does not verify, and plain HTTP gets no answer: nothing is submitted
    const noCa = aggregateDetailed({ node: httpsApi(fed), token: token(fed, 'eu'), round: 'r-tls', update: Float32Array.of(9, 9), reduce: 'sum' });
    await expect(noCa).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    const plain = aggregateDetailed({ node: httpsApi(fed).replace('https:', 'http:'), token: token(fed, 'eu'), round: 'r-tls', update: Float32Array.of(9, 9), reduce: 'sum' });
    await expect(plain).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });

    const [a, b] = await Promise.all([
      aggregateDetailed({ node: httpsApi(fed), ca: ca.cert, token: token(fed, 'eu'), round: 'r-tls', update: Float32Array.of(1, 2), reduce: 'sum', expect: 1 }),
      aggregateDetailed({ node: plainApi(fed, 'us'), token: token(fed, 'us'), round: 'r-tls', update: Float32Array.of(10, 20), reduce: 'sum', expect: 1 }),
    ]);
    expect([...a.vector]).toEqual([11, 22]);
    expect(a.contributors).toEqual(['eu', 'us']);
    expect([...b.vector]).toEqual([11, 22]);
    // the CA as PEM text works the same as its path
    await expect(aggregateDetailed({ node: httpsApi(fed), ca: await readFile(ca.cert, 'utf8'), token: 'wrong', round: 'r-2', update: Float32Array.of(1) })).rejects.toMatchObject({ code: 'API_UNAUTHORIZED', status: 401 });
  }, 60_000);

  it('refuses to start an API beyond loopback in plain HTTP, a half TLS set and a key that is not the certificate’s', async () => {
    const fed = await federation('0.0.0.0');
    const { ca, eu: euCert } = serverCerts(fed.dir);
    await expect(startNodeProcess(fed, 'eu')).rejects.toThrow(/exited with 1 before listening: mpc-node: the trainer API would listen on "0\.0\.0\.0".*--tls-cert PATH --tls-key PATH/);
    await expect(startNodeProcess(fed, 'eu', {}, [], ['--tls-cert', euCert.cert])).rejects.toThrow(/exited with 2 before listening: mpc-node: --tls-cert needs --tls-key PATH/);
    const other = issue(ca, { dir: fed.dir, file: 'other', subject: '/CN=other', serial: 0x1002, use: 'server' });
    const mismatch = (await startNodeProcess(fed, 'eu', {}, [], ['--tls-cert', euCert.cert, '--tls-key', other.key]).catch((e: Error) => e)) as Error;
    expect(mismatch.message).toMatch(/exited with 1 before listening: mpc-node: --tls-cert \S+ and --tls-key \S+: the key is not the certificate’s key/);
    // the refused key never reaches the output
    expect(mismatch.message).not.toContain((await readFile(other.key, 'utf8')).split('\n')[1]!);
  }, 60_000);

  it('serves a rotated certificate from the next handshake without a restart, and keeps the old one when the new pair does not match', async () => {
    const fed = await federation();
    const { ca, eu: first } = serverCerts(fed.dir);
    // the node reads the files it was started with: copies that the test then replaces
    const live = { cert: `${fed.dir}/live.pem`, key: `${fed.dir}/live.key` };
    await copyFile(first.cert, live.cert);
    await copyFile(first.key, live.key);
    const eu = await start(fed, ['--tls-cert', live.cert, '--tls-key', live.key], ca.cert);
    const caPem = await readFile(ca.cert);
    expect(await presented(httpsApi(fed), caPem)).toBe(fingerprintOf(first.cert));

    const second = issue(ca, { dir: fed.dir, file: 'second', subject: '/CN=eu-node', serial: 0x2002, use: 'server' });
    await writeFile(live.key, await readFile(second.key));
    await writeFile(live.cert, await readFile(second.cert));
    const reloaded = await logged(eu, (e) => e.event === 'tls-reloaded' && (e.certificate as { sha256: string }).sha256 === fingerprintOf(second.cert));
    expect((reloaded.certificate as { serial: string }).serial).toBe('2002');
    expect(await presented(httpsApi(fed), caPem)).toBe(fingerprintOf(second.cert));

    // a certificate for another key over the live one: refused, the second pair stays in service
    const third = issue(ca, { dir: fed.dir, file: 'third', subject: '/CN=eu-node', serial: 0x3003, use: 'server' });
    const before = eu.logs.length;
    await writeFile(live.cert, await readFile(third.cert));
    const refused = await logged(eu, (e) => e.event === 'tls-reload-failed', before);
    expect(refused).toMatchObject({ level: 'warn', reason: expect.stringMatching(/the key is not the certificate’s key/) });
    expect((refused.serving as { sha256: string }).sha256).toBe(fingerprintOf(second.cert));
    expect(await presented(httpsApi(fed), caPem)).toBe(fingerprintOf(second.cert));
    expect((await get(`${httpsApi(fed)}/healthz`, { ca: ca.cert })).status).toBe(200);
    expect(JSON.stringify(eu.logs)).not.toContain((await readFile(third.key, 'utf8')).split('\n')[1]!);
  }, 60_000);

  it('mTLS: a client certificate of the client CA is a trainer credential; none and no token is 401, another CA’s is refused', async () => {
    const fed = await federation();
    const { ca, eu: euCert } = serverCerts(fed.dir);
    const clientCa = makeCa(fed.dir, 'trainers');
    const otherCa = makeCa(fed.dir, 'other');
    const trainer = issue(clientCa, { dir: fed.dir, file: 'trainer-7', subject: '/CN=trainer-7', serial: 0x7007, use: 'client' });
    const noCn = issue(clientCa, { dir: fed.dir, file: 'no-cn', subject: '/O=acme', serial: 0x7008, use: 'client' });
    const stranger = issue(otherCa, { dir: fed.dir, file: 'stranger', subject: '/CN=trainer-7', serial: 0x7009, use: 'client' });
    await start(fed, ['--tls-cert', euCert.cert, '--tls-key', euCert.key, '--tls-client-ca', clientCa.cert], ca.cert);
    const url = `${httpsApi(fed)}/v1/aggregate?round=r-refused&reduce=sum`;

    const none = await get(url, { ca: ca.cert, method: 'POST' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error).toMatchObject({ code: 'API_UNAUTHORIZED', message: expect.stringContaining('--tls-client-ca') });
    for (const withToken of [undefined, token(fed, 'eu')]) {
      const other = await get(url, { ca: ca.cert, ...stranger, method: 'POST', ...(withToken ? { token: withToken } : {}) });
      expect(other.status).toBe(401);
      expect(JSON.parse(other.body).error.message).toMatch(/^client certificate refused \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    }
    // a trainer's certificate opens the trainer route only: it is a credential of the role trainer
    const certOnStatus = await get(`${httpsApi(fed)}/v1/status`, { ca: ca.cert, ...trainer });
    expect([certOnStatus.status, JSON.parse(certOnStatus.body).error.code]).toEqual([403, 'API_FORBIDDEN']);
    expect((await get(`${httpsApi(fed)}/v1/status`, { ca: ca.cert, token: token(fed, 'eu') })).status).toBe(200);

    // eu: one trainer by certificate (no token), one without a CN, one by bearer token (no certificate); us: by token
    const [byCert, byNoCn, byToken] = await Promise.all([
      aggregateDetailed({ node: httpsApi(fed), ca: ca.cert, ...trainer, round: 'r-mtls', update: Float32Array.of(1, 2), reduce: 'sum', expect: 3 }),
      aggregateDetailed({ node: httpsApi(fed), ca: ca.cert, ...noCn, round: 'r-mtls', update: Float32Array.of(100, 200), reduce: 'sum', expect: 3 }),
      aggregateDetailed({ node: httpsApi(fed), ca: ca.cert, token: token(fed, 'eu'), round: 'r-mtls', update: Float32Array.of(1000, 2000), reduce: 'sum', expect: 3 }),
      aggregateDetailed({ node: plainApi(fed, 'us'), token: token(fed, 'us'), round: 'r-mtls', update: Float32Array.of(10, 20), reduce: 'sum', expect: 1 }),
    ]);
    for (const r of [byCert, byNoCn, byToken]) {
      expect([...r.vector]).toEqual([1111, 2222]);
      expect(r.totalWeight).toBe(4);
    }
    // a stranger's certificate never got in: the round holds exactly the four updates above
    expect(byCert.contributors).toEqual(['eu', 'us']);
  }, 60_000);
});
