/**
 * Trainer intake against real node processes: every refusal is the JSON error of docs/api.md,
 * a refused update is never counted, and bodies of unknown length are bounded. Raw sockets are
 * used where a well-behaved client cannot produce the request (a body longer than its
 * Content-Length, a stalled body). Needs the built CLI (npm test builds it first).
 */
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, waitConnected, type LocalFederation } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';
import { rawExchange } from './support/raw-http.js';

const fx = useFederations('mpc-node-intake-');
const IDS = ['apac', 'eu', 'us'];

async function federation(): Promise<LocalFederation> {
  const fed = await fx.federation(IDS, { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000 } });
  // eu refuses a body that pauses for 400 ms
  const started = await Promise.all(IDS.map((id) => startNodeProcess(fed, id, {}, [], id === 'eu' ? ['--body-timeout-ms', '400'] : [])));
  fx.procs.push(...started);
  await waitConnected(fed);
  return fed;
}

const head = (api: string, token: string, round: string, headers: Record<string, string | number>) =>
  `POST /v1/aggregate?round=${round}&weight=1&reduce=sum HTTP/1.1\r\nhost: ${new URL(api).host}\r\nauthorization: Bearer ${token}\r\n` +
  Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';

const f32 = (...v: number[]) => Buffer.from(Float32Array.from(v).buffer);

function post(api: string, token: string, round: string, headers: Record<string, string | number>, body: Buffer | Buffer[]): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${api}/v1/aggregate?round=${round}&weight=1&reduce=sum`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', reject);
    for (const b of Array.isArray(body) ? body : [body]) req.write(b);
    req.end();
  });
}

const errorOf = (reply: string) => JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };

describe('trainer intake: refusals are JSON errors and never counted', () => {
  it('refuses a body that is not application/octet-stream with 415, before reading it', async () => {
    const fed = await federation();
    const r0 = fed.regions[0]!;
    for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
      const res = await post(r0.api, r0.token, 'typed', { 'content-type': type }, Buffer.from('[1,2,3,4]'));
      expect(res.status).toBe(415);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'API_UNSUPPORTED_MEDIA_TYPE' } });
    }
    const none = await post(r0.api, r0.token, 'typed', {}, f32(1, 2));
    expect(none.status).toBe(415);
    // parameters of the media type are allowed
    const ok = await Promise.all(fed.regions.map((r, i) => post(r.api, r.token, 'typed', { 'content-type': 'application/octet-stream; charset=binary', 'x-mpc-expect': 1 }, f32(i, 1))));
    for (const r of ok) expect(Array.from(new Float32Array(new Uint8Array(r.body).buffer))).toEqual([3, 3]);
  }, 60_000);

  it('a body longer than its Content-Length is refused with a JSON 400 and not counted: the retry is counted once', async () => {
    const fed = await federation();
    const [apac, eu, us] = fed.regions as [typeof fed.regions[0], typeof fed.regions[0], typeof fed.regions[0]];
    const round = 'longer';
    // 8 bytes announced, 12 sent in the same packet
    const reply = await rawExchange(apac.api, Buffer.concat([Buffer.from(head(apac.api, apac.token, round, { 'content-type': 'application/octet-stream', 'content-length': 8, 'x-mpc-expect': 1 })), f32(100, 100, 100)]));
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorOf(reply).error.code).toBe('API_BAD_REQUEST');
    expect(errorOf(reply).error.message).toMatch(/not counted/);
    // the trainer retries properly; the round sums it once
    const res = await Promise.all([
      aggregateDetailed({ node: apac.api, token: apac.token, round, update: Float32Array.of(1, 2), reduce: 'sum', expect: 1 }),
      aggregateDetailed({ node: eu.api, token: eu.token, round, update: Float32Array.of(10, 20), reduce: 'sum', expect: 1 }),
      aggregateDetailed({ node: us.api, token: us.token, round, update: Float32Array.of(100, 200), reduce: 'sum', expect: 1 }),
    ]);
    for (const r of res) {
      expect(Array.from(r.vector)).toEqual([111, 222]);
      expect(r.totalWeight).toBe(3);
    }
  }, 60_000);

  it('a stalled body is refused with 408 after the body timeout, a truncated one with 400; neither is counted', async () => {
    const fed = await federation();
    const [apac, eu, us] = fed.regions as [typeof fed.regions[0], typeof fed.regions[0], typeof fed.regions[0]];
    const round = 'stalled';
    // eu (body timeout 400 ms): 4 of 8 bytes, then silence with the connection open
    const t0 = Date.now();
    const stalled = await rawExchange(eu.api, Buffer.concat([Buffer.from(head(eu.api, eu.token, round, { 'content-type': 'application/octet-stream', 'content-length': 8 })), f32(7)]), { keepOpen: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(stalled).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorOf(stalled).error.code).toBe('API_BODY_TIMEOUT');
    // truncated: the client closes after half the body
    const truncated = await rawExchange(eu.api, Buffer.concat([Buffer.from(head(eu.api, eu.token, `${round}-cut`, { 'content-type': 'application/octet-stream', 'content-length': 8 })), f32(7)]));
    expect(truncated).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorOf(truncated).error.message).toMatch(/ended before the whole body arrived.*not counted/);
    // neither opened a round: no round, no upload, no transcript, no memory reserved at eu
    const st = (await (await fetch(`${eu.api}/v1/status`, { headers: { authorization: `Bearer ${eu.token}` } })).json()) as { roundsInFlight: unknown[]; uploadsPending: unknown[]; memory: { reserved: number } };
    expect([st.roundsInFlight, st.uploadsPending, st.memory.reserved]).toEqual([[], [], 0]);
    expect((await fetch(`${eu.api}/transcripts/${round}`)).status).toBe(404);
    // so the trainers' correct retries use the SAME round ids, and each is counted once
    for (const id of [round, `${round}-cut`]) {
      const res = await Promise.all([
        aggregateDetailed({ node: apac.api, token: apac.token, round: id, update: Float32Array.of(1), reduce: 'sum', expect: 1 }),
        aggregateDetailed({ node: eu.api, token: eu.token, round: id, update: Float32Array.of(10), reduce: 'sum', expect: 1 }),
        aggregateDetailed({ node: us.api, token: us.token, round: id, update: Float32Array.of(100), reduce: 'sum', expect: 1 }),
      ]);
      for (const r of res) expect([Array.from(r.vector), r.totalWeight]).toEqual([[111], 3]);
    }
  }, 60_000);

  it('a chunked body streams when it announces x-mpc-params, and must match it', async () => {
    const fed = await federation();
    const [apac, eu, us] = fed.regions as [typeof fed.regions[0], typeof fed.regions[0], typeof fed.regions[0]];
    const round = 'chunked';
    const short = await post(apac.api, apac.token, `${round}-short`, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', 'x-mpc-params': 3 }, [f32(1), f32(2)]);
    expect(short.status).toBe(400);
    expect(JSON.parse(short.body.toString()).error.message).toMatch(/shorter than announced/);
    const res = await Promise.all([
      post(apac.api, apac.token, round, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', 'x-mpc-params': 2, 'x-mpc-expect': 1 }, [f32(1), f32(2)]),
      post(eu.api, eu.token, round, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', 'x-mpc-expect': 1 }, [f32(10), f32(20)]),
      post(us.api, us.token, round, { 'content-type': 'application/octet-stream', 'x-mpc-expect': 1 }, f32(100, 200)),
    ]);
    for (const r of res) {
      expect(r.status).toBe(200);
      expect(Array.from(new Float32Array(new Uint8Array(r.body).buffer))).toEqual([111, 222]);
    }
  }, 60_000);

  it('answers a request the HTTP parser cannot read with a JSON error, and keeps serving', async () => {
    const fed = await federation();
    const r0 = fed.regions[0]!;
    const garbage = await rawExchange(r0.api, Buffer.from('NOT HTTP AT ALL\r\n\r\n'));
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorOf(garbage).error.code).toBe('API_BAD_REQUEST');
    const huge = await rawExchange(r0.api, Buffer.from(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(errorOf(huge).error.code).toBe('API_HEADERS_TOO_LARGE');
    expect((await fetch(`${r0.api}/healthz`)).status).toBe(200);
  }, 60_000);

  it('tells a clipped trainer by how much (x-mpc-clip-factor), and counts it in metrics and logs', async () => {
    const fed = await fx.federation(IDS, { threshold: 2, round: { clipL2: 1, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000 } });
    await fx.start(fed);
    await waitConnected(fed);
    // apac's update has norm 2 (clipped to 1: factor 0.5), the others are within the bound
    const ups = [Float32Array.of(2, 0), Float32Array.of(0.5, 0), Float32Array.of(0, 0.25)];
    const res = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'clip', update: ups[i]!, reduce: 'sum', expect: 1 })));
    expect(res.map((r) => r.clipFactor)).toEqual([0.5, 1, 1]);
    for (const r of res) expect(Array.from(r.vector)).toEqual([1.5, 0.25]);
    const metrics = async (api: string, token: string) => (await (await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    const m0 = await metrics(fed.regions[0]!.api, fed.regions[0]!.token);
    expect(m0).toMatch(/^mpc_node_updates_clipped_total\{region="apac"\} 1$/m);
    expect(m0).toMatch(/^mpc_node_updates_accepted_total\{region="apac"\} 1$/m);
    expect(await metrics(fed.regions[1]!.api, fed.regions[1]!.token)).toMatch(/^mpc_node_updates_clipped_total\{region="eu"\} 0$/m);
    const accepted = fx.procs.find((p) => p.region === 'apac')!.logs.find((l) => l.event === 'update-accepted' && l.round === 'clip');
    expect(accepted).toMatchObject({ clipped: true, clipFactor: 0.5 });
  }, 60_000);
});
