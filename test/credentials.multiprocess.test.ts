/**
 * Trainer identity, roles and idempotent submissions against real node processes on 127.0.0.1:
 * named credentials added and revoked while the node runs, roles refused with 403, each
 * request logged by credential name, the transcript naming the trainers by pseudonymous id
 * (and still verifying), a retried upload counted once and a different one refused.
 * Needs the built CLI (npm test builds it first).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, type AggregateOptions, type AggregateResult } from '../src/client/index.js';
import { addCredential, revokeCredential, SHARED_CREDENTIAL, trainerPseudonym } from '../src/node/credentials.js';
import { waitConnected, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { verifyRound } from '../src/verifier/index.js';
import { useFederations } from './support/federation.js';
import { rawExchange } from './support/raw-http.js';

const fx = useFederations('mpc-node-cred-');

async function federation(): Promise<LocalFederation> {
  // eu's collection closes on `expect` (collectMs is long), the others' at their first update
  const fed = await fx.federation(['apac', 'eu', 'us'], { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, collectMs: 60_000, phaseTimeoutMs: 10_000, roundTimeoutMs: 120_000 } });
  await fx.start(fed);
  await waitConnected(fed);
  return fed;
}

const region = (fed: LocalFederation, id: string) => fed.regions.find((r) => r.id === id)!;
const proc = (id: string): NodeProcess => fx.procs.find((p) => p.region === id)!;
const trainerIdKey = async (fed: LocalFederation, id: string) => (await readFile(join(region(fed, id).dataDir, 'trainer-id-key'), 'utf8')).trim();
const settle = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e: e as { code?: string; status?: number } }));

/** Resolves once `p` has logged an event matching `match` (the node's own account, no timing assumed). */
async function logged(p: NodeProcess, match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (;;) {
    const e = p.logs.find(match);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function transcript(fed: LocalFederation, id: string, round: string): Promise<string> {
  const res = await fetch(`${region(fed, id).api}/transcripts/${round}`);
  expect(res.status).toBe(200);
  return res.text();
}

function entriesOf(text: string): { kind: string; body: Record<string, unknown> }[] {
  return text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; body: Record<string, unknown> });
}

async function verifyAll(fed: LocalFederation, round: string): Promise<void> {
  const texts = await Promise.all(fed.regions.map((r) => transcript(fed, r.id, round)));
  const rep = await verifyRound({ federation: JSON.parse(await readFile(fed.config, 'utf8')) as Record<string, unknown>, transcripts: texts.map((t) => new TextEncoder().encode(t)), names: fed.regions.map((r) => `${r.id}.jsonl`) });
  expect(rep.errors).toEqual([]);
  expect(rep.ok).toBe(true);
}

describe('trainer credentials and roles (real node processes)', () => {
  it('two named trainers contribute under pseudonymous ids; roles are enforced; a revoked token is refused without a restart', async () => {
    const fed = await federation();
    const eu = region(fed, 'eu');
    // added while the node runs: it rereads credentials.json on the next request
    const alice = (await addCredential(eu.dataDir, 'alice', 'trainer')).token;
    const bob = (await addCredential(eu.dataDir, 'bob', 'trainer')).token;
    const audit = (await addCredential(eu.dataDir, 'audit-1', 'auditor')).token;
    const round = 'cred-1';
    const base = { round, reduce: 'sum' as const } satisfies Partial<AggregateOptions>;

    // an auditor may read the node's view, not submit; a trainer may submit, not read
    await expect(aggregateDetailed({ ...base, node: eu.api, token: audit, update: Float32Array.of(1, 1) })).rejects.toMatchObject({ code: 'API_FORBIDDEN', status: 403 });
    expect((await fetch(`${eu.api}/v1/status`, { headers: { authorization: `Bearer ${audit}` } })).status).toBe(200);
    const denied = await fetch(`${eu.api}/metrics`, { headers: { authorization: `Bearer ${alice}` } });
    expect([denied.status, ((await denied.json()) as { error: { code: string } }).error.code]).toEqual([403, 'API_FORBIDDEN']);
    expect((await fetch(`${eu.api}/v1/status`, { headers: { authorization: `Bearer ${eu.token}` } })).status).toBe(200); // the api-token is an operator

    const sent = [
      aggregateDetailed({ ...base, node: eu.api, token: alice, update: Float32Array.of(1, 2), expect: 2 }),
      aggregateDetailed({ ...base, node: eu.api, token: bob, update: Float32Array.of(10, 20), expect: 2 }),
      aggregateDetailed({ ...base, node: region(fed, 'us').api, token: region(fed, 'us').token, update: Float32Array.of(100, 200), expect: 1 }),
      aggregateDetailed({ ...base, node: region(fed, 'apac').api, token: region(fed, 'apac').token, update: Float32Array.of(1000, 2000), expect: 1 }),
    ];
    const res = await Promise.all(sent);
    for (const r of res) expect(Array.from(r.vector)).toEqual([1111, 2222]);

    const text = await transcript(fed, 'eu', round);
    const t = entriesOf(text).filter((e) => e.kind === 'trainers').map(({ kind, body }) => ({ kind, body }));
    const key = await trainerIdKey(fed, 'eu');
    expect(t).toEqual([{ kind: 'trainers', body: { count: 2, ids: [trainerPseudonym(key, 'alice'), trainerPseudonym(key, 'bob')].sort() } }]);
    for (const secret of ['alice', 'bob', alice, bob, key]) expect(text).not.toContain(secret);
    const us = entriesOf(await transcript(fed, 'us', round)).find((e) => e.kind === 'trainers');
    expect(us?.body).toEqual({ count: 1, ids: [trainerPseudonym(await trainerIdKey(fed, 'us'), SHARED_CREDENTIAL)] });
    await verifyAll(fed, round);

    // every credentialed request is attributed by name, never by token
    const euLogs = proc('eu').logs;
    expect(euLogs.filter((e) => e.event === 'api-request' && e.credential === 'alice' && e.route === 'POST /v1/aggregate' && e.status === 200)).toHaveLength(1);
    expect(euLogs.some((e) => e.event === 'api-request' && e.credential === 'audit-1' && e.status === 403)).toBe(true);
    for (const e of euLogs) for (const secret of [alice, bob, audit, eu.token]) expect(JSON.stringify(e)).not.toContain(secret);

    // revoked: refused on its very next request, the node still running
    expect(await revokeCredential(eu.dataDir, 'alice')).toBe(true);
    await expect(aggregateDetailed({ ...base, round: 'cred-2', node: eu.api, token: alice, update: Float32Array.of(1, 2) })).rejects.toMatchObject({ code: 'API_UNAUTHORIZED', status: 401 });
    expect((await fetch(`${eu.api}/v1/status`, { headers: { authorization: `Bearer ${audit}` } })).status).toBe(200);
    expect(proc('eu').child.exitCode).toBeNull();
  }, 90_000);

  it('a retried identical upload is counted once and joins the answer; a different one is refused, also after the round', async () => {
    const fed = await federation();
    const eu = region(fed, 'eu');
    const us = region(fed, 'us');
    const alice = (await addCredential(eu.dataDir, 'alice', 'trainer')).token;
    const bob = (await addCredential(eu.dataDir, 'bob', 'trainer')).token;
    const round = 'idem-1';
    const base = { round, reduce: 'sum' as const, weight: 2 };
    const euUpload = (token: string, update: Float32Array, o: Partial<AggregateOptions> = {}): Promise<AggregateResult> => aggregateDetailed({ ...base, node: eu.api, token, update, expect: 2, ...o });

    // a first upload cut off is refused and not counted, and frees the slot: the next try is a first upload
    const head = `POST /v1/aggregate?round=${round}&weight=2&reduce=sum&expect=2 HTTP/1.1\r\nhost: ${new URL(eu.api).host}\r\nauthorization: Bearer ${alice}\r\ncontent-type: application/octet-stream\r\ncontent-length: 8\r\n\r\n`;
    expect(await rawExchange(eu.api, Buffer.concat([Buffer.from(head), Buffer.from(Float32Array.of(1).buffer)]))).toMatch(/^HTTP\/1\.1 400 /);
    const first = euUpload(alice, Float32Array.of(1, 2));
    await logged(proc('eu'), (e) => e.event === 'update-accepted' && e.round === round);
    // the same update again (another call, so another idempotency key): joins, is not counted;
    // were it counted, eu's collection (expect 2) would close without bob
    const retry = euUpload(alice, Float32Array.of(1, 2));
    const other = await settle(euUpload(alice, Float32Array.of(5, 5)));
    expect(other).toMatchObject({ ok: false, e: { code: 'API_DUPLICATE_UPDATE', status: 409 } });
    const heavier = await settle(euUpload(alice, Float32Array.of(1, 2), { weight: 3 })); // same body, another weight: another update
    expect(heavier).toMatchObject({ ok: false, e: { code: 'API_DUPLICATE_UPDATE' } });
    const status = (await (await fetch(`${eu.api}/v1/status`, { headers: { authorization: `Bearer ${eu.token}` } })).json()) as { roundsInFlight: { round: string; trainers: number }[] };
    expect(status.roundsInFlight.find((r) => r.round === round)?.trainers).toBe(1);

    // the shared api-token deduplicates by idempotency key: us counts this update once
    const usUpload = () => aggregateDetailed({ ...base, node: us.api, token: us.token, update: Float32Array.of(100, 100), expect: 2, idempotencyKey: 'us-upload-1' });
    const usFirst = usUpload();
    await logged(proc('us'), (e) => e.event === 'update-accepted' && e.round === round);
    const usAgain = usUpload();
    const usSecond = aggregateDetailed({ ...base, node: us.api, token: us.token, update: Float32Array.of(200, 200), expect: 2, idempotencyKey: 'us-upload-2' });

    const rest = [
      euUpload(bob, Float32Array.of(10, 20)),
      aggregateDetailed({ ...base, node: region(fed, 'apac').api, token: region(fed, 'apac').token, update: Float32Array.of(1000, 1000), expect: 1 }),
    ];
    const all = await Promise.all([first, retry, usFirst, usAgain, usSecond, ...rest]);
    // 2 * (1 + 10 + 100 + 200 + 1000, 2 + 20 + 100 + 200 + 1000): every update once
    for (const r of all) expect([Array.from(r.vector), r.totalWeight]).toEqual([[2622, 2644], 10]);

    // the round is over at eu (sealed): its aggregate is no longer kept for retries, but the slot is:
    // the same update is not counted again, a different one is still refused
    await logged(proc('eu'), (e) => e.event === 'round-sealed' && e.round === round);
    await expect(euUpload(alice, Float32Array.of(1, 2))).rejects.toMatchObject({ code: 'API_BAD_REQUEST', message: expect.stringMatching(/no longer kept for retries/) });
    await expect(euUpload(alice, Float32Array.of(9, 9))).rejects.toMatchObject({ code: 'API_DUPLICATE_UPDATE' });

    const t = entriesOf(await transcript(fed, 'eu', round)).find((e) => e.kind === 'trainers');
    expect(t?.body.count).toBe(2);
    expect(entriesOf(await transcript(fed, 'us', round)).find((e) => e.kind === 'trainers')?.body.count).toBe(2);
    expect(proc('eu').logs.filter((e) => e.event === 'update-accepted' && e.round === round)).toHaveLength(2);
    await verifyAll(fed, round);
  }, 90_000);
});
