/**
 * The locality policy with real node processes on 127.0.0.1: a region whose policy forbids a
 * jurisdiction never sends it a share (seen from the receiving node's decrypted messages), the
 * refusal is in /metrics, the log and the transcript, and `mpc-node verify` accepts the round;
 * the leak test (a trainer's distinctive values appear in no decrypted message and no file of
 * the other regions); a policy mismatch aborts before any share is sent; the node's periodic
 * prune task. Needs the built CLI (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError } from '../src/client/index.js';
import { cliPath, startNodeProcess, waitConnected, type LocalFederation } from '../src/node/local-federation.js';
import { decodePeerMessage } from '../src/wire/codec.js';
import { useFederations } from './support/federation.js';
import { leakHits, metric, updateNeedles, type Haystack } from './support/leaks.js';

const fx = useFederations('mpc-node-policy-');
const procs = fx.procs;

const ROUND = { clipL2: 1e6, maxWeight: 10, maxTrainersPerRound: 10, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000 };

function federation(ids: string[], t: number, policy?: Record<string, unknown>): Promise<LocalFederation> {
  return fx.federation(ids, { threshold: t, round: ROUND, ...(policy ? { policy } : {}) });
}

const dumpOf = (fed: LocalFederation, id: string) => join(fed.dir, `decrypted-${id}.txt`);

function start(fed: LocalFederation, ids = fed.regions.map((r) => r.id)): Promise<void> {
  return fx.start(fed, ids, (id) => ({ MPC_TEST_DUMP_DECRYPTED: dumpOf(fed, id) }));
}

/** Every decrypted message a node received: { from, type, bytes }. */
function received(fed: LocalFederation, id: string): { from: string; type: string; bytes: Buffer }[] {
  const f = dumpOf(fed, id);
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [from, hex] = l.split(' ');
      const bytes = Buffer.from(hex!, 'hex');
      return { from: from!, type: decodePeerMessage(bytes).type, bytes };
    });
}

async function sealedTranscript(api: string, round: string): Promise<string> {
  for (let k = 0; ; k++) {
    const got = await fetch(`${api}/transcripts/${round}`);
    const text = got.ok ? await got.text() : '';
    const last = text.trimEnd().split('\n').pop() ?? '';
    if (last.includes('"kind":"sealed"') || last.includes('"kind":"abort"')) return text;
    if (k > 100) throw new Error(`transcript not final: ${text.slice(-300)}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}



describe('locality policy between real node processes', () => {
  it('eu forbids US: no share from eu ever reaches us, the round completes, the violation is in metrics, log and transcript; nothing of the trainer update leaks; verify passes', async () => {
    const fed = await federation(['apac', 'eu', 'us'], 2, { regions: { eu: { classification: 'personal', shareTo: ['APAC'] } } });
    await start(fed);
    await waitConnected(fed);
    const L = 96;
    // eu's trainer: distinctive values in a recognizable pattern
    const pattern = [1234.5678, -8765.4321, 4242.4242];
    const euUpdate = Float32Array.from({ length: L }, (_, i) => pattern[i % 3]!);
    const other = (r: number) => Float32Array.from({ length: L }, (_, i) => Math.cos(i * 0.37 + r) * 3);
    const updates: Record<string, Float32Array> = { apac: other(1), eu: euUpdate, us: other(2) };
    const res = await Promise.all(fed.regions.map((r) => aggregateDetailed({ node: r.api, token: r.token, round: 'locality-1', update: updates[r.id]!.slice(), weight: 1, expect: 1, reduce: 'sum' })));
    for (const r of res) {
      expect(r.contributors).toEqual(['apac', 'eu', 'us']);
      for (let i = 0; i < L; i++) expect(Math.abs(r.vector[i]! - (updates.apac![i]! + updates.eu![i]! + updates.us![i]!))).toBeLessThan(1e-2);
    }
    const texts = await Promise.all(fed.regions.map((r) => sealedTranscript(r.api, 'locality-1')));
    // us holds nothing from eu, so it is not a decided holder
    const decision = texts[0]!.split('\n').find((l) => l.includes('"kind":"decision"'))!;
    expect((JSON.parse(decision) as { body: { holders: string[] } }).body.holders).toEqual(['apac', 'eu']);

    // on the receiving side, after decryption: shares from apac, none from eu
    const atUs = received(fed, 'us');
    expect(atUs.filter((m) => m.from === 'apac' && m.type === 'share').length).toBeGreaterThan(0);
    expect(atUs.filter((m) => m.from === 'eu' && m.type === 'share')).toEqual([]);
    expect(atUs.filter((m) => m.from === 'eu').length).toBeGreaterThan(0); // public messages still flow
    // and eu's byte counters: it sent us far less than apac (no share stream)
    const euStatus = (await (await fetch(`${fed.regions[1]!.api}/v1/status`, { headers: { authorization: `Bearer ${fed.regions[1]!.token}` } })).json()) as { bytes: { bytesSent: Record<string, number> }; policyViolations: number };
    expect(euStatus.bytes.bytesSent.us!).toBeLessThan(euStatus.bytes.bytesSent.apac!);
    expect(euStatus.policyViolations).toBeGreaterThanOrEqual(1);

    // metrics (behind the token)
    const eu = fed.regions[1]!;
    expect((await fetch(`${eu.api}/metrics`)).status).toBe(401);
    const m = await (await fetch(`${eu.api}/metrics`, { headers: { authorization: `Bearer ${eu.token}` } })).text();
    expect(metric(m, 'mpc_node_policy_violations_total', { kind: 'share-to', region: 'eu' })).toBe(1);
    expect(metric(m, 'mpc_node_rounds_total', { outcome: 'done' })).toBe(1);
    expect(metric(m, 'mpc_node_peer_bytes_sent_total', { peer: 'us' })).toBeGreaterThan(0);
    expect(m).toMatch(/mpc_node_round_duration_seconds_count\{[^}]*outcome="done"[^}]*\} 1/);
    // the log: a violation event, as it happened
    const euLogs = procs.find((p) => p.region === 'eu')!.logs;
    const v = euLogs.find((l) => l.event === 'policy-violation');
    expect(v).toMatchObject({ level: 'warn', rule: 'share-to', subject: 'eu->us', outcome: 'refused', round: 'locality-1' });
    // the transcript: the refused flow, recorded by eu
    const euPolicy = texts[1]!.split('\n').filter((l) => l.includes('"kind":"policy"')).map((l) => (JSON.parse(l) as { body: { subject: string; outcome: string } }).body);
    expect(euPolicy).toContainEqual(expect.objectContaining({ subject: 'eu->us', outcome: 'refused' }));
    expect(euPolicy).toContainEqual(expect.objectContaining({ subject: 'eu->apac', outcome: 'allowed' }));

    // verify: every flow allowed by the policy in force
    const files = fed.regions.map((r) => join(fed.dir, `${r.id}-locality-1.jsonl`));
    await Promise.all(files.map((f, i) => writeFile(f, texts[i]!)));
    const out = spawnSync(process.execPath, [cliPath(), 'verify', ...files, '--federation', fed.config, '--json'], { encoding: 'utf8' });
    const report = JSON.parse(out.stdout) as { ok: boolean; errors: string[]; checks: { name: string; ok: boolean; detail: string }[] };
    expect(report.errors).toEqual([]);
    expect(report.checks.find((c) => c.name === 'policy')!.detail).toMatch(/share flow\(s\) allowed.*1 refusal/);

    // leak test: neither eu's raw float32 bytes nor their field encodings, anywhere the others saw or wrote
    const f32 = Buffer.from(euUpdate.buffer);
    const needles = updateNeedles(f32, pattern);
    const haystacks: Haystack[] = [];
    for (const id of ['apac', 'us']) {
      for (const msg of received(fed, id)) haystacks.push({ where: `${id} received ${msg.type} from ${msg.from}`, bytes: msg.bytes });
      for (const f of filesUnder(fed.regions.find((r) => r.id === id)!.dataDir)) haystacks.push({ where: f, bytes: await readFile(f) });
      haystacks.push({ where: `${id} stdout`, bytes: Buffer.from(JSON.stringify(procs.find((p) => p.region === id)!.logs)) });
    }
    expect(haystacks.map((h) => h.where)).toContain('apac received share from eu'); // eu's share stream is among them
    // the needles are findable where they are (the search works)
    expect(Buffer.concat([Buffer.alloc(3), f32]).includes(needles[0]!.bytes)).toBe(true);
    const hits = leakHits(haystacks, needles);
    expect(hits).toEqual([]);
  }, 60_000);

  it('two nodes with different policy sections abort before dealing: no share is ever sent', async () => {
    const fed = await federation(['apac', 'eu', 'us'], 2);
    // us runs with a different policy (minTrainers 2): same regions, keys and round settings
    const cfg = JSON.parse(readFileSync(fed.config, 'utf8')) as Record<string, unknown>;
    const other = join(fed.dir, 'federation-us.json');
    await writeFile(other, JSON.stringify({ ...cfg, policy: { minTrainers: 2 } }, null, 2));
    await start({ ...fed, regions: fed.regions.filter((r) => r.id !== 'us') });
    procs.push(await startNodeProcess({ ...fed, config: other }, 'us', { MPC_TEST_DUMP_DECRYPTED: dumpOf(fed, 'us') }));
    await waitConnected(fed);
    const errs = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'mismatch-policy', update: Float32Array.of(i, 1, 2), expect: 1 }).catch((e: unknown) => e)));
    for (const e of errs) {
      expect(e).toBeInstanceOf(AggregateError);
      // the policy rule that differs, with both values (docs/protocol.md, round parameters)
      expect((e as AggregateError).message).toMatch(/policy\.minTrainers: (1|2) at \S+, (1|2) at \S+/);
    }
    for (const r of fed.regions) {
      expect(received(fed, r.id).filter((m) => m.type === 'share')).toEqual([]);
      const text = await sealedTranscript(r.api, 'mismatch-policy');
      expect(text).not.toContain('"kind":"commits"');
      expect(text).toContain('PROTOCOL_PARAMS_MISMATCH');
    }
  }, 60_000);

  it('the node prunes transcripts past retention at start (and periodically), and records it', async () => {
    const fed = await federation(['apac', 'eu', 'us'], 2, { retention: { transcriptDays: 30 } });
    const eu = fed.regions[1]!;
    const tdir = join(eu.dataDir, 'transcripts');
    await writeFile(join(tdir, 'old-round.jsonl'), '{}\n');
    await writeFile(join(tdir, 'new-round.jsonl'), '{}\n');
    const old = new Date(Date.now() - 40 * 86_400_000);
    await utimes(join(tdir, 'old-round.jsonl'), old, old);
    const p = await startNodeProcess(fed, 'eu', { MPC_PRUNE_INTERVAL_MS: '1000' });
    procs.push(p);
    for (let k = 0; existsSync(join(tdir, 'old-round.jsonl')) && k < 50; k++) await new Promise((ok) => setTimeout(ok, 100));
    expect(existsSync(join(tdir, 'old-round.jsonl'))).toBe(false);
    expect(existsSync(join(tdir, 'new-round.jsonl'))).toBe(true);
    const log = readFileSync(join(tdir, 'prune-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; retentionDays: number });
    expect(log).toEqual([expect.objectContaining({ file: 'old-round.jsonl', retentionDays: 30 })]);
    for (let k = 0; !p.logs.some((l) => l.event === 'transcript-pruned') && k < 20; k++) await new Promise((ok) => setTimeout(ok, 100));
    expect(p.logs.find((l) => l.event === 'transcript-pruned')).toMatchObject({ file: 'old-round.jsonl' });
  }, 30_000);
});
