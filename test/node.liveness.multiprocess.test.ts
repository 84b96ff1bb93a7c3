/**
 * Round liveness and failure codes between real node processes on 127.0.0.1: a region killed
 * (kill -9) after it received and receipted shares but before the decision is never a decided
 * holder and the round completes at once, sealed; a round below minContributors and a
 * parameter mismatch give the same code in every region, each naming the region that found it,
 * and the mismatch names the differing federation field. Needs the built CLI (npm test builds it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError } from '../src/client/index.js';
import { cliPath, startNodeProcess, waitConnected, type LocalFederation, type LocalRegion } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';

const fx = useFederations('mpc-node-liveness-');
const procs = fx.procs;

type Entry = { kind: string; body: Record<string, unknown> };

function federation(round: Record<string, unknown> = {}): Promise<LocalFederation> {
  return fx.federation(['apac', 'eu', 'us'], { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000, ...round } });
}

/** A region's transcript of `round` as entries so far ([] before it exists). */
function transcript(r: LocalRegion, round: string): Entry[] {
  const file = join(r.dataDir, 'transcripts', `${round}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Entry);
}

async function until<T>(what: string, probe: () => T | undefined | false, tries = 400): Promise<T> {
  for (let k = 0; k < tries; k++) {
    const v = probe();
    if (v) return v;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The transcript of `round` at `r` once its final entry is in. */
const finalTranscript = (r: LocalRegion, round: string) =>
  until(`${r.id}'s final entry of ${round}`, () => {
    const es = transcript(r, round);
    return ['sealed', 'unsealed', 'abort'].includes(es.at(-1)?.kind ?? '') && es;
  });

const update = (L: number, k: number) => Float32Array.from({ length: L }, (_, i) => Math.sin(i + k));

describe('liveness and failure codes between real node processes', () => {
  it('a region killed -9 after receipting shares, before the decision: not a holder, the round completes at once and sealed', async () => {
    // eu has no trainer: its collection stays open for collectMs, while apac and us (one trainer
    // each, expect 1) deal at once; eu takes their shares and sends receipts, then is killed. The
    // deadlines are long, so a round that waited for eu would outlast the test's timeout.
    const fed = await federation({ collectMs: 20_000, phaseTimeoutMs: 20_000, roundTimeoutMs: 300_000 });
    await fx.start(fed);
    await waitConnected(fed);
    const [apac, , us] = fed.regions as [LocalRegion, LocalRegion, LocalRegion];
    const L = 2000;
    const pending = [apac, us].map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'kill-eu', update: update(L, i), weight: 1, expect: 1 }));
    // eu's receipts for both dealers are in the coordinator's transcript
    await until('eu receipts at apac', () => {
      const receipts = transcript(apac, 'kill-eu').filter((e) => e.kind === 'receipt' && e.body.holder === 'eu');
      return ['apac', 'us'].every((d) => receipts.some((e) => e.body.dealer === d));
    });
    expect(transcript(apac, 'kill-eu').some((e) => e.kind === 'decision')).toBe(false);
    const euProc = procs.find((p) => p.region === 'eu')!;
    process.kill(euProc.child.pid!, 'SIGKILL');
    const res = await Promise.all(pending);
    for (const r of res) expect(r.contributors).toEqual(['apac', 'us']);
    for (const r of [apac, us]) {
      const es = await finalTranscript(r, 'kill-eu');
      expect(es.find((e) => e.kind === 'decision')?.body).toMatchObject({ dealers: ['apac', 'us'], holders: ['apac', 'us'] });
      expect(es.at(-1)!.kind).toBe('sealed');
    }
    // the coordinator's transcript says why eu is no holder
    expect(transcript(apac, 'kill-eu').find((e) => e.kind === 'dropout')?.body).toMatchObject({ region: 'eu', phase: 'decide' });
    // and the auditor accepts both surviving transcripts
    const files = [apac, us].map((r) => join(r.dataDir, 'transcripts', 'kill-eu.jsonl'));
    const verified = spawnSync(process.execPath, [cliPath(), 'verify', ...files, '--federation', fed.config, '--json'], { encoding: 'utf8' });
    expect((JSON.parse(verified.stdout) as { errors: string[] }).errors).toEqual([]);
    expect(verified.status).toBe(0);
  }, 60_000);

  it('below minContributors: the same code in every region (trainers, late trainers, logs, metrics, transcripts), naming the region that found it', async () => {
    const fed = await federation({ minContributors: 3 });
    await fx.start(fed);
    await waitConnected(fed);
    const [apac, eu, us] = fed.regions as [LocalRegion, LocalRegion, LocalRegion];
    // two regions contribute; us (no trainer) holds shares only
    const errs = await Promise.all([apac, eu].map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'too-few', update: update(10, i), expect: 1 }).catch((e: unknown) => e)));
    for (const r of fed.regions) await finalTranscript(r, 'too-few');
    // a trainer of us asking afterwards is told the same cause
    const late = await aggregateDetailed({ node: us.api, token: us.token, round: 'too-few', update: update(10, 2) }).catch((e: unknown) => e);
    for (const e of [...errs, late]) {
      expect(e).toBeInstanceOf(AggregateError);
      expect(e).toMatchObject({ code: 'PROTOCOL_BELOW_MIN_CONTRIBUTORS', status: 409 });
      expect((e as AggregateError).message).toMatch(/the policy requires 3: nothing is revealed \(found by apac\)/);
    }
    for (const r of fed.regions) {
      expect(transcript(r, 'too-few').at(-1)).toMatchObject({ kind: 'abort', body: { by: 'apac', code: 'PROTOCOL_BELOW_MIN_CONTRIBUTORS' } });
      const logged = procs.find((p) => p.region === r.id)!.logs.find((l) => l.event === 'round-aborted' && l.round === 'too-few');
      expect(logged).toMatchObject({ code: 'PROTOCOL_BELOW_MIN_CONTRIBUTORS', reason: expect.stringMatching(/\(found by apac\)$/) });
      const metrics = await (await fetch(`${r.api}/metrics`, { headers: { authorization: `Bearer ${r.token}` } })).text();
      expect(metrics).toMatch(new RegExp(`mpc_node_round_aborts_total\\{code="PROTOCOL_BELOW_MIN_CONTRIBUTORS",region="${r.id}"\\} 1`));
    }
  }, 60_000);

  it('a parameter mismatch: PROTOCOL_PARAMS_MISMATCH in every region, naming the policy rule that differs', async () => {
    const fed = await federation();
    // us runs with another policy: its own shares may go to EU only (as many holders as the threshold)
    const cfg = JSON.parse(readFileSync(fed.config, 'utf8')) as Record<string, unknown>;
    const other = join(fed.dir, 'federation-us.json');
    await writeFile(other, JSON.stringify({ ...cfg, policy: { regions: { us: { shareTo: ['EU'] } } } }, null, 2));
    await fx.start(fed, ['apac', 'eu']);
    procs.push(await startNodeProcess({ ...fed, config: other }, 'us'));
    await waitConnected(fed);
    const errs = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'mismatch', update: update(10, i), expect: 1 }).catch((e: unknown) => e)));
    for (const [i, e] of errs.entries()) {
      expect(e).toBeInstanceOf(AggregateError);
      expect(e).toMatchObject({ code: 'PROTOCOL_PARAMS_MISMATCH', status: 409 });
      // the rule with both values; whoever found it is named
      expect((e as AggregateError).message).toMatch(/policy\.regions\.us\.shareTo: (null at (apac|eu), \["EU"\] at us|\["EU"\] at us, null at (apac|eu))/);
      expect((e as AggregateError).message).toMatch(/\(found by (apac|eu|us)\)$/);
      const es = await finalTranscript(fed.regions[i]!, 'mismatch');
      expect(es.at(-1)).toMatchObject({ kind: 'abort', body: { code: 'PROTOCOL_PARAMS_MISMATCH' } });
      expect(es.some((x) => x.kind === 'commits')).toBe(false);
    }
  }, 60_000);
});
