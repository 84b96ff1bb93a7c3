/**
 * Whole rounds with real node processes on 127.0.0.1: correct results for 3 and 5 regions,
 * dropouts before and after dealing, parameter mismatch, bad trainer input, an impostor peer.
 * Needs the built CLI (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError } from '../src/client/index.js';
import { cliPath, waitConnected, type LocalFederation } from '../src/node/local-federation.js';
import { generateIdentity } from '../src/transport/identity.js';
import { PeerNetwork } from '../src/transport/peer-network.js';
import { useFederations } from './support/federation.js';
import { ROUND_DEFAULTS } from '../src/federation/index.js';
import { maxErr, weightedMean } from './support/plaintext.js';

const REGIONS5 = ['apac', 'eu', 'sa', 'us', 'za'];
const fx = useFederations('mpc-node-test-');
const procs = fx.procs;

function federation(ids: string[], t: number, round: Record<string, unknown> = {}): Promise<LocalFederation> {
  return fx.federation(ids, { threshold: t, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000, ...round } });
}

function start(fed: LocalFederation, ids = fed.regions.map((r) => r.id), env: Record<string, Record<string, string>> = {}): Promise<void> {
  return fx.start(fed, ids, (id) => env[id] ?? {});
}

function publicKeyOf(fed: LocalFederation, id: string): Uint8Array {
  const cfg = JSON.parse(readFileSync(fed.config, 'utf8')) as { regions: { id: string; publicKey: string }[] };
  return Uint8Array.from(Buffer.from(cfg.regions.find((r) => r.id === id)!.publicKey, 'hex'));
}

const update = (L: number, r: number) => Float32Array.from({ length: L }, (_, i) => Math.cos(i * 0.01 + r) * (r + 1));


describe('rounds between real node processes', () => {
  for (const [n, t] of [[3, 2], [5, 3]] as const) {
    it(`${n} regions, t = ${t}: every trainer receives the weighted mean`, async () => {
      const fed = await federation(REGIONS5.slice(0, n), t);
      await start(fed);
      await waitConnected(fed);
      const L = 20_000;
      const us = fed.regions.map((_, r) => update(L, r));
      const ws = fed.regions.map((_, r) => 100 * (r + 1));
      // two trainers in the first region: the node sums them before sharing
      const extra = update(L, 9);
      const res = await Promise.all([
        ...fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'epoch-1', update: us[i]!, weight: ws[i]!, expect: i === 0 ? 2 : 1 })),
        aggregateDetailed({ node: fed.regions[0]!.api, token: fed.regions[0]!.token, round: 'epoch-1', update: extra, weight: 50, expect: 2 }),
      ]);
      const want = weightedMean([...us, extra], [...ws, 50]);
      for (const r of res) {
        expect(maxErr(r.vector, want)).toBeLessThan(1e-4);
        expect(r.contributors).toEqual(fed.regions.map((x) => x.id).sort());
      }
    }, 60_000);
  }

  it('5 regions, t = 3: a node killed right after dealing still counts, the result is correct', async () => {
    const fed = await federation(REGIONS5, 3);
    await start(fed, REGIONS5, { za: { MPC_TEST_FAULT: 'exit-after-deal' } });
    await waitConnected(fed);
    const L = 5000;
    const us = fed.regions.map((_, r) => update(L, r));
    const za = fed.regions.findIndex((r) => r.id === 'za');
    const pending = fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'drop-after', update: us[i]!, weight: 10, expect: 1 }));
    const zaResult = pending[za]!.catch((e: Error) => e);
    const res = await Promise.all(pending.filter((_, i) => i !== za));
    expect(await zaResult).toBeInstanceOf(Error); // its process exited
    const want = weightedMean(us, us.map(() => 10));
    for (const r of res) {
      expect(maxErr(r.vector, want)).toBeLessThan(1e-4);
      expect(r.contributors).toContain('za');
    }
  }, 60_000);

  it('a region that never starts is excluded when the minimum is met, and the round aborts cleanly when it is not', async () => {
    const fed = await federation(REGIONS5.slice(0, 4), 2, { minContributors: 3 });
    await start(fed, ['apac', 'eu', 'sa']);
    await waitConnected(fed, 15_000, ['apac', 'eu', 'sa']);
    const L = 1000;
    const live = fed.regions.slice(0, 3);
    const us = live.map((_, r) => update(L, r));
    const res = await Promise.all(live.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'drop-before', update: us[i]!, weight: 1, expect: 1 })));
    for (const r of res) {
      expect(maxErr(r.vector, weightedMean(us, [1, 1, 1]))).toBeLessThan(1e-4);
      expect(r.contributors).toEqual(['apac', 'eu', 'sa']);
    }
    // only two trainers this time: below minContributors = 3
    const two = await Promise.all(live.slice(0, 2).map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'too-few', update: us[i]!, weight: 1, expect: 1 }).catch((e: unknown) => e)));
    for (const e of two) {
      expect(e).toBeInstanceOf(AggregateError);
      expect((e as AggregateError).message).toMatch(/contributed .* requires 3: nothing is revealed/);
    }
    // a trainer that comes after the abort is told why the round ended, not just that it did
    const late = await aggregateDetailed({ node: live[0]!.api, token: live[0]!.token, round: 'too-few', update: us[0]! }).catch((e: unknown) => e);
    expect(late).toMatchObject({ status: 409 });
    expect((late as AggregateError).message).toMatch(/^round too-few has already ended: .*requires 3: nothing is revealed/);
  }, 60_000);

  it('update lengths that differ between regions: never a wrong result, every refused trainer is told why', async () => {
    // Which length a node takes depends on arrival order, by design: a node opened by a peer's
    // parameters adopts that length (its own trainer with another length then gets a length
    // error and the others aggregate without it); two nodes that opened independently with
    // different lengths abort the whole round with PROTOCOL_PARAMS_MISMATCH. Both are correct;
    // a result from mixed lengths never is.
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    const updates = fed.regions.map((_, i) => update(i === 1 ? 12 : 10, i));
    const out = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'mismatch', update: updates[i]!, expect: 1 }).catch((e: unknown) => e)));
    const odd = out[1];
    expect(odd).toBeInstanceOf(AggregateError);
    expect((odd as AggregateError).message).toMatch(/params \(the update length\): (10|12) at \S+, (10|12) at \S+|update has 12 values, round mismatch has 10/);
    for (const [i, o] of out.entries()) {
      if (i === 1) continue;
      if (o instanceof AggregateError) {
        // the node was opened by the odd region's params first: its own trainer is refused by length
        expect(o.message).toMatch(/params \(the update length\): (10|12) at \S+, (10|12) at \S+|update has 10 values, round mismatch has 12/);
      } else {
        const res = o as Awaited<ReturnType<typeof aggregateDetailed>>;
        expect(res.contributors).not.toContain(fed.regions[1]!.id);
        expect(maxErr(res.vector, weightedMean([updates[0]!, updates[2]!], [1, 1]))).toBeLessThan(1e-4);
      }
    }
  }, 60_000);

  it('a trainer that hangs up while waiting: its accepted update still counts, the others get the result, the node serves the next round', async () => {
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    const L = 30_000;
    const [r0, r1, r2] = fed.regions as [LocalFederation['regions'][number], LocalFederation['regions'][number], LocalFederation['regions'][number]];
    const node0 = procs.find((p) => p.region === r0.id)!;
    const us = [update(L, 0), update(L, 1), update(L, 2), update(L, 3)];
    const ac = new AbortController();
    const gone = aggregateDetailed({ node: r0.api, token: r0.token, round: 'hangup', update: us[0]!, expect: 2, signal: ac.signal }).catch((e: unknown) => e);
    const accepted = () => node0.logs.some((l) => l.event === 'update-accepted' && l.round === 'hangup');
    for (let i = 0; i < 200 && !accepted(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(accepted()).toBe(true);
    ac.abort(); // the first trainer hangs up while its update waits in the regional sum
    expect(await gone).toBeInstanceOf(AggregateError);
    const res = await Promise.all([
      aggregateDetailed({ node: r0.api, token: r0.token, round: 'hangup', update: us[3]!, expect: 2 }),
      aggregateDetailed({ node: r1.api, token: r1.token, round: 'hangup', update: us[1]!, expect: 1 }),
      aggregateDetailed({ node: r2.api, token: r2.token, round: 'hangup', update: us[2]!, expect: 1 }),
    ]);
    const want = weightedMean([us[0]!, us[3]!, us[1]!, us[2]!], [1, 1, 1, 1]);
    for (const r of res) expect(maxErr(r.vector, want)).toBeLessThan(1e-4);
    // the node is still serving: a next round goes through
    const next = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-hangup', update: us[i]!, expect: 1 })));
    for (const r of next) expect(maxErr(r.vector, weightedMean(us.slice(0, 3), [1, 1, 1]))).toBeLessThan(1e-4);
  }, 60_000);

  it('an upload that began within collectMs holds the collection open until it is in', async () => {
    // collectMs = 300 ms; this trainer sends its headers and half its body at once, the rest
    // 900 ms later (a large model on a slow link): it must count, not get "collection closed"
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    const L = 10_000;
    const us = fed.regions.map((_, r) => update(L, r));
    const r0 = fed.regions[0]!;
    const body = Buffer.from(us[0]!.buffer);
    const slow = new Promise<{ status: number; vector: Float32Array }>((resolve, reject) => {
      const req = httpRequest(`${r0.api}/v1/aggregate?round=slow-upload&weight=1&reduce=mean`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r0.token}`, 'content-type': 'application/octet-stream', 'content-length': body.length },
      }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, vector: new Float32Array(new Uint8Array(Buffer.concat(parts)).buffer) }));
      });
      req.on('error', reject);
      req.write(body.subarray(0, body.length / 2));
      setTimeout(() => req.end(body.subarray(body.length / 2)), 900);
    });
    const others = await Promise.all(fed.regions.slice(1).map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'slow-upload', update: us[i + 1]!, expect: 1 })));
    const mine = await slow;
    expect(mine.status).toBe(200);
    const want = weightedMean(us, [1, 1, 1]);
    expect(maxErr(mine.vector, want)).toBeLessThan(1e-4);
    for (const r of others) {
      expect(r.contributors).toEqual(fed.regions.map((x) => x.id).sort());
      expect(maxErr(r.vector, want)).toBeLessThan(1e-4);
    }
    expect(procs.find((p) => p.region === r0.id)!.logs.some((l) => l.event === 'collection-extended' && l.round === 'slow-upload')).toBe(true);
  }, 60_000);

  it('without expect, a committed trainer counts once: maxTrainersPerRound of them fit, and the collection closes at collectMs, not extended for them', async () => {
    const fed = await federation(REGIONS5.slice(0, 3), 2, { maxTrainersPerRound: 3 });
    await start(fed);
    await waitConnected(fed);
    const r0 = fed.regions[0]!;
    const logs = procs.find((p) => p.region === r0.id)!.logs;
    const L = 64;
    const submit = (r: (typeof fed.regions)[number], k: number) => aggregateDetailed({ node: r.api, token: r.token, round: 'no-expect', update: update(L, k), reduce: 'sum' });
    // three trainers at the first region, one after the other's update is in: the third used to be refused (the first two counted twice)
    const answers: Promise<Awaited<ReturnType<typeof aggregateDetailed>>>[] = [];
    for (let k = 0; k < 3; k++) {
      answers.push(submit(r0, k));
      for (let i = 0; !logs.some((l) => l.event === 'update-accepted' && l.round === 'no-expect' && l.trainers === k + 1); i++) {
        if (i > 200) throw new Error(`update ${k + 1} not accepted`);
        await new Promise((ok) => setTimeout(ok, 5));
      }
    }
    answers.push(...fed.regions.slice(1).map((r, i) => submit(r, 3 + i)));
    const res = await Promise.all(answers);
    const want = new Float64Array(L);
    for (let k = 0; k < 5; k++) update(L, k).forEach((v, i) => (want[i]! += v));
    expect(maxErr(res[0]!.vector, want)).toBeLessThan(1e-3);
    expect(res[0]!.totalWeight).toBe(5);
    // nothing was still uploading at collectMs: the collection was not held open until the peer-wait deadline
    expect(logs.filter((l) => l.event === 'collection-extended' && l.round === 'no-expect')).toEqual([]);
  }, 60_000);

  it('rejects bad trainer input with a clear error and keeps serving', async () => {
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    const r0 = fed.regions[0]!;
    const bad = async (o: Partial<Parameters<typeof aggregateDetailed>[0]>) =>
      aggregateDetailed({ node: r0.api, token: r0.token, round: 'bad', update: new Float32Array(4), ...o }).catch((e: AggregateError) => e);
    const nan = await bad({ update: Float32Array.of(1, NaN, 3) });
    expect(nan).toMatchObject({ code: 'ENCODE_NOT_FINITE', status: 400 });
    expect((nan as Error).message).toBe('update value at index 1 is not a finite number (NaN or Infinity)');
    expect(await bad({ token: 'nope' })).toMatchObject({ code: 'API_UNAUTHORIZED', status: 401 });
    expect(await bad({ weight: -1 })).toMatchObject({ code: 'API_BAD_REQUEST' });
    expect(await bad({ round: 'bad round!' })).toMatchObject({ code: 'API_BAD_REQUEST' });
    // oversized: above maxParams (set small for this federation's round)
    const res = await fetch(`${r0.api}/v1/aggregate?round=big`, { method: 'POST', headers: { authorization: `Bearer ${r0.token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(3) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/not a whole number of float32/);
    // an announced length above round.maxParams x 4 is refused before the body is read: 413
    const tooLarge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${r0.api}/v1/aggregate?round=too-large`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r0.token}`, 'content-type': 'application/octet-stream', 'content-length': ROUND_DEFAULTS.maxParams * 4 + 4 },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write(new Uint8Array(8)); // a lying header: the node answers without waiting for the rest
    });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({ error: { code: 'WIRE_TOO_LARGE', message: `update of ${ROUND_DEFAULTS.maxParams + 1} values exceeds round.maxParams = ${ROUND_DEFAULTS.maxParams} (${ROUND_DEFAULTS.maxParams * 4} bytes)` } });
    // no such route, no such transcript: 404 API_NOT_FOUND
    const noRoute = await fetch(`${r0.api}/v1/aggregat`, { method: 'POST', headers: { authorization: `Bearer ${r0.token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(4) });
    expect(noRoute.status).toBe(404);
    expect(((await noRoute.json()) as { error: { code: string } }).error.code).toBe('API_NOT_FOUND');
    const noTranscript = await fetch(`${r0.api}/transcripts/never-ran`);
    expect(noTranscript.status).toBe(404);
    expect(((await noTranscript.json()) as { error: { code: string } }).error.code).toBe('API_NOT_FOUND');
    // still serving: a good round completes
    const L = 100;
    const ok = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-bad', update: update(L, i), expect: 1 })));
    expect(maxErr(ok[0]!.vector, weightedMean(fed.regions.map((_, i) => update(L, i)), [1, 1, 1]))).toBeLessThan(1e-4);
  }, 60_000);

  it('refuses a peer from an unknown region and keeps serving the federation', async () => {
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    // 'aaa' sorts lowest, so it dials every real node; nobody lists it (wrong keys for listed
    // regions are refused in test/transport.loopback.test.ts)
    const impostor = new PeerNetwork({
      federation: 'local-demo',
      identity: generateIdentity('aaa'),
      // it knows the real public keys (they are public), not apac's secret key
      peers: new Map(fed.regions.filter((r) => r.id !== 'aaa').map((r) => [r.id, { publicKey: publicKeyOf(fed, r.id), endpoint: `ws://127.0.0.1:${r.peerPort}` }])),
      listen: { host: '127.0.0.1', port: 0 },
    });
    await impostor.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(impostor.connectedPeers()).toEqual([]);
    await impostor.close();
    const eu = procs.find((p) => p.region === 'eu')!;
    expect(eu.logs.filter((l) => l.event === 'refused').map((l) => l.code)).toContain('TRANSPORT_UNKNOWN_PEER');
    const ok = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-impostor', update: update(10, i), expect: 1 })));
    expect(ok).toHaveLength(3);
  }, 60_000);

  it('every node serves its sealed transcript; `mpc-node verify` accepts all three, and fails naming the check after one flipped byte', async () => {
    const fed = await federation(REGIONS5.slice(0, 3), 2);
    await start(fed);
    await waitConnected(fed);
    const L = 300;
    const res = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'audit-1', update: update(L, i), weight: 5, expect: 1, reduce: 'sum' })));
    // seals arrive just after the result: poll until every transcript ends with its final entry
    const texts: string[] = [];
    for (const r of fed.regions) {
      for (let k = 0; ; k++) {
        const got = await fetch(`${r.api}/transcripts/audit-1`);
        const text = got.ok ? await got.text() : '';
        if (text.trimEnd().split('\n').pop()?.includes('"kind":"sealed"')) {
          texts.push(text);
          break;
        }
        if (k > 100) throw new Error(`transcript of ${r.id} not sealed: ${text.slice(-300)}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
    }
    const dir = fed.dir;
    const fedJson = await (await fetch(`${fed.regions[0]!.api}/federation`)).text(); // public, no token
    await writeFile(join(dir, 'served-federation.json'), fedJson);
    const files = fed.regions.map((r) => join(dir, `${r.id}-audit-1.jsonl`));
    await Promise.all(files.map((f, i) => writeFile(f, texts[i]!)));
    const v = res[0]!.vector;
    await writeFile(join(dir, 'result.bin'), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    const verify = (args: string[]) => spawnSync(process.execPath, [cliPath(), 'verify', ...args], { encoding: 'utf8' });
    const ok = verify([...files, '--federation', join(dir, 'served-federation.json'), '--result', join(dir, 'result.bin'), '--json']);
    expect(ok.stderr).toBe('');
    const report = JSON.parse(ok.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[]; errors: string[] };
    expect(report.errors).toEqual([]);
    expect(ok.status).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(['encoding', 'chain', 'signatures', 'parameters', 'protocol', 'receipts', 'dealer-consistency', 'decision', 'threshold', 'policy', 'consistency', 'fan-in', 'result', 'sealed', 'cross-check']);
    expect(verify([...files, '--federation', fed.config]).status).toBe(0); // the file on disk is the same federation
    // flip one byte inside a hex digest of the third region's transcript (the first entry after
    // params with a digest in its body; policy entries come first)
    const lines = texts[2]!.split('\n');
    const k = lines.findIndex((l, i) => i > 0 && l.includes('"digest'));
    const at = lines[k]!.indexOf('"digest') + 20;
    lines[k] = lines[k]!.slice(0, at) + (lines[k]![at] === 'a' ? 'b' : 'a') + lines[k]!.slice(at + 1);
    await writeFile(files[2]!, lines.join('\n'));
    const bad = verify([...files, '--federation', fed.config, '--json']);
    expect(bad.status).toBe(1);
    const badReport = JSON.parse(bad.stdout) as { ok: boolean; errors: string[] };
    expect(badReport.ok).toBe(false);
    expect(badReport.errors[0]).toMatch(new RegExp(`^chain: .*${fed.regions[2]!.id}-audit-1\\.jsonl seq ${k}: entry hash`));
    const human = verify([files[2]!, '--federation', fed.config]);
    expect(human.stdout).toMatch(/\[FAIL\] chain/);
  }, 60_000);
});
