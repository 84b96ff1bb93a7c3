/**
 * Protocol test vectors (format v1) under test/vectors/protocol/v1/ (format: README.md there):
 * the events a region node's round state machine was given, in order, and the effects `step`
 * must return for each, with every message as its wire bytes (src/wire/codec.ts) in hex.
 * Generated here from runLocal (its `observe` hook) with fixed seeds for keys, randomness and
 * the clock; scenarios that runLocal cannot provoke insert messages into one node's events and
 * take the effects from stepping that node.
 *
 *   MPC_WRITE_VECTORS=1 npx vitest run test/protocol.vectors.test.ts   # (re)write the files
 *   npx vitest run test/protocol.vectors.test.ts                      # regenerate and compare, replay each
 *
 * Replay uses the JSON alone: a fresh RoundMemory with the node's inputs, its keys and seeds,
 * `step` from `initialState`, and a small node edge (dealing and publishing, as runLocal's).
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { nobleSha256, regionVerifier } from '../src/core/crypto.js';
import { parseFederation } from '../src/federation/index.js';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { localSecretKey, runLocal, type LocalFaults } from '../src/protocol/harness.js';
import { signedBytes, type PeerMessage } from '../src/protocol/messages.js';
import { EXTRA_ELEMS, roundParamsFor, type RoundParams } from '../src/protocol/params.js';
import { initialState, step, type Effect, type RoundEvent, type RoundTiming, type StepContext } from '../src/protocol/round.js';
import { RoundMemory, addUpdate, dealChunks, resultArray } from '../src/protocol/memory/index.js';
import { decodePeerMessage, encodePeerMessageParts } from '../src/wire/codec.js';
import { federationJson, REGIONS } from './transcript-fixtures.js';

const DIR = join(import.meta.dirname, 'vectors/protocol/v1');
const SOURCE = 'MPC_WRITE_VECTORS=1 npx vitest run test/protocol.vectors.test.ts (runLocal with fixed seeds; keys SHA-256("key:" + region), rng keys SHA-256("rng:" + name))';
const P = 4;
const TIMING: RoundTiming = { peerWaitMs: 1000, decideMs: 5000, roundMs: 20000 };
const TICK_MS = 250;

type Hex = string;
export interface VSend { to: string; type: string; hex: Hex }
export type VEvent =
  | { kind: 'open'; now: number }
  | { kind: 'input'; contributes: boolean; trainers: number; now: number }
  | { kind: 'message'; from: string; type: string; hex: Hex; now: number }
  | { kind: 'dealt'; digests: Record<string, Hex>; now: number }
  | { kind: 'published'; digest: Hex; now: number }
  | { kind: 'tick'; now: number }
  | { kind: 'peer-up'; peer: string; now: number }
  | { kind: 'peer-down'; peer: string; now: number }
  | { kind: 'peer-stalled'; peer: string; now: number }
  | { kind: 'peer-flowing'; peer: string; now: number };
export type VEffect =
  | ({ kind: 'send' } & VSend)
  | { kind: 'deal'; holders: string[]; edge: VSend[] }
  | { kind: 'publish'; to: string[]; decision: Hex; edge: VSend[] }
  | { kind: 'result'; contributors: string[]; holders: string[]; params: number; totalWeight: number; sum: Hex; mean: Hex }
  | { kind: 'aborted'; code: string; message: string; culprits: string[] }
  | { kind: 'refused'; from: string; code: string; message: string; culprits: string[] }
  | { kind: 'log'; event: string; detail: unknown }
  | { kind: 'record'; record: { kind: string; body: unknown } }
  | { kind: 'sealed'; complete: boolean }
  | { kind: 'violation'; decision: unknown };
export interface VStep { event: VEvent; effects: VEffect[] }
export interface VNode {
  region: string;
  inputs: { update: number[]; weight: number }[];
  /** AES-256-CTR key of the dealing randomness (hex, 32 bytes). */
  dealSeed: Hex;
  /** AES-256-CTR key of the consistency check's projection stream (hex, 32 bytes). */
  projectionSeed: Hex;
  /** A misbehaving node edge: element `corruptAggregate` of the published aggregate share + 1 (mod p). */
  edgeFault?: { corruptAggregate: number };
  steps: VStep[];
  final: { phase: string; error: { code: string; culprits: string[] } | null };
}
export interface Vector {
  description: string;
  source: string;
  federation: Record<string, unknown>;
  /** Whether the step was given the federation's locality policy (ctx.policy). */
  policyInStep: boolean;
  params: RoundParams;
  timing: RoundTiming;
  clock: { start: number; tickMs: number };
  keys: Record<string, { secretKey: Hex; publicKey: Hex }>;
  /** Participants that never opened the round (no node, no events). */
  dead: string[];
  nodes: VNode[];
  /** What the scenario is about: effects that must appear at a node (checked on replay too). */
  expect: { region: string; kind: 'aborted' | 'refused'; code: string; culprits: string[] }[];
}

const hex = bytesToHex;
const wire = (m: PeerMessage): Hex => hex(concatBytes(...encodePeerMessageParts(m)));
const vsend = (to: string, m: PeerMessage): VSend => ({ to, type: m.type, hex: wire(m) });
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const rngKey = (name: string) => sha256(new TextEncoder().encode(`rng:${name}`));
const rng = (name: string) => aesCtrRandom(rngKey(name));
/** The 32 bytes runLocal draws from rng(region + "/projection") as the projection key. */
function projectionSeed(region: string): Uint8Array {
  const b = new Uint8Array(32);
  rng(`${region}/projection`)(b);
  return b;
}
const errOf = (e: { code: string; message: string; culprits?: readonly string[] }) => ({ code: e.code, message: e.message, culprits: [...(e.culprits ?? [])] });

function eventJson(ev: RoundEvent): VEvent {
  switch (ev.kind) {
    case 'message':
      return { kind: 'message', from: ev.from, type: ev.msg.type, hex: wire(ev.msg), now: ev.now };
    case 'dealt':
      return { kind: 'dealt', digests: Object.fromEntries([...ev.digests].map(([h, d]) => [h, hex(d)])), now: ev.now };
    case 'published':
      return { kind: 'published', digest: hex(ev.digest), now: ev.now };
    case 'streamed':
      throw new Error('protocol version 2 has no vectors in this format');
    default:
      return { ...ev };
  }
}

function eventOf(v: VEvent): RoundEvent {
  switch (v.kind) {
    case 'message':
      return { kind: 'message', from: v.from, msg: decodePeerMessage(hexToBytes(v.hex)), now: v.now };
    case 'dealt':
      return { kind: 'dealt', digests: new Map(Object.entries(v.digests).map(([h, d]) => [h, hexToBytes(d)])), now: v.now };
    case 'published':
      return { kind: 'published', digest: hexToBytes(v.digest), now: v.now };
    default:
      return { ...v };
  }
}

/** An effect as JSON; `deal`/`publish` get the node edge's sends (filled in by the caller). */
function effectJson(e: Effect): VEffect {
  switch (e.kind) {
    case 'send':
      return { kind: 'send', ...vsend(e.to, e.msg) };
    case 'deal':
      return { kind: 'deal', holders: [...e.holders], edge: [] };
    case 'stream-shares':
      throw new Error('protocol version 2 has no vectors in this format');
    case 'publish':
      return { kind: 'publish', to: [...e.to], decision: wire(e.relay[0]!), edge: [] };
    case 'result':
      return {
        kind: 'result', contributors: [...e.contributors], holders: [...e.holders], params: e.result.params, totalWeight: e.result.totalWeight,
        sum: hex(new Uint8Array(resultArray(e.result, 'sum').buffer)), mean: hex(new Uint8Array(resultArray(e.result, 'mean').buffer)),
      };
    case 'aborted':
      return { kind: 'aborted', ...errOf(e.error) };
    case 'refused':
      return { kind: 'refused', from: e.from, ...errOf(e.error) };
    case 'log':
      return { kind: 'log', event: e.event, detail: plain(e.detail) };
    case 'record':
      return { kind: 'record', record: plain(e.record) };
    case 'sealed':
      return { kind: 'sealed', complete: e.complete };
    case 'violation':
      return { kind: 'violation', decision: plain(e.decision) };
  }
}

// ---------------------------------------------------------------------------------------------
// replay: one node from the JSON alone

export interface Replayed { steps: VStep[]; final: VNode['final']; problems: string[] }

/**
 * Steps `node` through `events` from `initialState`, as a node would: a RoundMemory with the
 * node's inputs, signatures with its key, verification with every participant's public key,
 * and a node edge that deals and publishes from the memory (to compare with the `edge` sends
 * and with the digests of the `dealt` / `published` events that follow).
 */
export function replay(K: WasmKernels, vec: Vector, node: VNode, events: readonly VEvent[]): Replayed {
  const p = vec.params;
  const memory = new RoundMemory(K, p.params + EXTRA_ELEMS, nobleSha256, aesCtrRandom);
  for (const u of node.inputs) addUpdate(memory, Float32Array.from(u.update), u.weight, p);
  const sk = hexToBytes(vec.keys[node.region]!.secretKey);
  const pubs = new Map(Object.entries(vec.keys).map(([r, k]) => [r, hexToBytes(k.publicKey)]));
  const projSeed = hexToBytes(node.projectionSeed);
  const dealRng = aesCtrRandom(hexToBytes(node.dealSeed));
  const ctx: StepContext = {
    memory,
    sign: (b) => ed25519.sign(b, sk),
    verify: regionVerifier(pubs),
    projectionRng: () => aesCtrRandom(projSeed),
    ...(vec.policyInStep ? { policy: parseFederation(vec.federation) } : {}),
  };
  let state = initialState(node.region, p, vec.timing, vec.clock.start);
  const steps: VStep[] = [];
  const problems: string[] = [];
  /** What the edge computed for the next dealt / published event. */
  let owed: { kind: 'dealt'; digests: Record<string, Hex> } | { kind: 'published'; digest: Hex } | null = null;
  for (const [i, v] of events.entries()) {
    if (v.kind === 'dealt' || v.kind === 'published') {
      const got = v.kind === 'dealt' ? { kind: v.kind, digests: v.digests } : { kind: v.kind, digest: v.digest };
      if (JSON.stringify(got) !== JSON.stringify(owed)) problems.push(`event ${i} (${v.kind}): the edge computed ${JSON.stringify(owed)}`);
      owed = null;
    }
    const out = step(state, eventOf(v), ctx);
    state = out.state;
    const effects: VEffect[] = [];
    for (const e of out.effects) {
      const j = effectJson(e);
      effects.push(j);
      if (e.kind === 'deal' && j.kind === 'deal') {
        const xs = e.holders.map((h) => p.participants.indexOf(h) + 1);
        const it = dealChunks(memory, p.threshold, p.participants.length, xs, p.participants.indexOf(node.region) + 1, dealRng);
        let r = it.next();
        for (; !r.done; r = it.next()) {
          for (const [x, data] of r.value.shares) j.edge.push(vsend(p.participants[x - 1]!, { type: 'share', round: p.round, offset: r.value.offset, data }));
        }
        owed = { kind: 'dealt', digests: Object.fromEntries([...r.value].map(([x, d]) => [p.participants[x - 1]!, hex(d)])) };
      } else if (e.kind === 'publish' && j.kind === 'publish') {
        for (const to of e.to) j.edge.push(vsend(to, e.relay[0]!));
        const corrupt = node.edgeFault?.corruptAggregate;
        const h = nobleSha256();
        const it = memory.aggChunks();
        let r = it.next();
        for (; !r.done; r = it.next()) {
          const data = r.value.data.slice();
          if (corrupt !== undefined && corrupt >= r.value.offset && corrupt < r.value.offset + data.length / 8) {
            const dv = new DataView(data.buffer, data.byteOffset);
            const k = (corrupt - r.value.offset) * 8;
            dv.setBigUint64(k, (dv.getBigUint64(k, true) + 1n) % 0xffff_ffff_0000_0001n, true);
          }
          h.update(data);
          for (const to of e.to) j.edge.push(vsend(to, { type: 'agg', round: p.round, offset: r.value.offset, data }));
        }
        owed = { kind: 'published', digest: hex(corrupt === undefined ? r.value : h.digest()) };
      } else if (e.kind === 'result' || e.kind === 'aborted') {
        memory.zeroize(); // as a node does: the round's vectors are wiped (the result was read above)
      }
    }
    steps.push({ event: v, effects });
  }
  if (owed) problems.push(`the edge still owes a ${owed.kind} event at the end`);
  return { steps, final: { phase: state.phase, error: state.error ? { code: state.error.code, culprits: [...state.error.culprits] } : null }, problems };
}

// ---------------------------------------------------------------------------------------------
// generation

interface Run {
  vec: Omit<Vector, 'description' | 'nodes' | 'expect'>;
  nodes: Map<string, VNode>;
  /** Every message sent, by sender, in order. */
  sent: { from: string; to: string; msg: PeerMessage }[];
}

function run(K: WasmKernels, o: { round: string; regions?: string[]; holdersOnly?: string[]; faults?: LocalFaults; policy?: Record<string, unknown>; now?: number }): Run {
  const regions = o.regions ?? REGIONS;
  const federation = { ...federationJson(regions, 2), ...(o.policy ? { policy: o.policy } : {}) };
  const fed = parseFederation(federation);
  const params = roundParamsFor(fed, o.round, P);
  const start = o.now ?? 0;
  const inputs = regions.map((region, r) => ({
    region,
    updates: o.holdersOnly?.includes(region) ? [] : [{ update: Float32Array.from({ length: P }, (_, i) => Math.sin(i + 3 * r) * 2), weight: 1 + r }],
  }));
  const dead = o.faults?.deadBeforeDeal ?? [];
  const corrupt = new Map((o.faults?.corruptAggregate ?? []).map((c) => [c.region, c.index]));
  const nodes = new Map<string, VNode>(
    inputs.filter((i) => !dead.includes(i.region)).map((i) => [i.region, {
      region: i.region,
      inputs: i.updates.map((u) => ({ update: Array.from(u.update), weight: u.weight })),
      dealSeed: hex(rngKey(i.region)), projectionSeed: hex(projectionSeed(i.region)),
      ...(corrupt.has(i.region) ? { edgeFault: { corruptAggregate: corrupt.get(i.region)! } } : {}),
      steps: [], final: { phase: 'collect', error: null },
    }]),
  );
  const edgeOf = new Map<string, VSend[]>();
  const sent: Run['sent'] = [];
  const outs = runLocal(K, params, inputs, {
    rng, timing: TIMING, now: start,
    ...(o.faults ? { faults: o.faults } : {}), ...(o.policy ? { policy: fed } : {}),
    observe: {
      step(region, ev, effects) {
        const fx = effects.map(effectJson);
        nodes.get(region)!.steps.push({ event: eventJson(ev), effects: fx });
        for (const j of fx) if (j.kind === 'deal' || j.kind === 'publish') edgeOf.set(region, j.edge);
      },
      send(from, to, msg) {
        sent.push({ from, to, msg: msg.type === 'share' || msg.type === 'agg' ? { ...msg, data: msg.data.slice() } : msg });
        // shares, the relayed decision and aggregate chunks are streamed by the edge, never `send` effects
        if (msg.type === 'share' || msg.type === 'agg' || msg.type === 'decision') edgeOf.get(from)!.push(vsend(to, msg));
      },
    },
  });
  for (const out of outs) {
    nodes.get(out.region)!.final = { phase: out.state.phase, error: out.state.error ? { code: out.state.error.code, culprits: [...out.state.error.culprits] } : null };
  }
  const keys = Object.fromEntries(regions.map((r) => [r, { secretKey: hex(localSecretKey(r)), publicKey: hex(ed25519.getPublicKey(localSecretKey(r))) }]));
  return {
    vec: { source: SOURCE, federation, policyInStep: !!o.policy, params, timing: TIMING, clock: { start, tickMs: TICK_MS }, keys, dead: [...dead] },
    nodes, sent,
  };
}

function vector(r: Run, description: string, nodes: VNode[], expectV: Vector['expect']): Vector {
  return { description, ...r.vec, nodes, expect: expectV };
}

/** `node` with other events: its steps and final state recomputed by stepping it (replay). */
function withEvents(K: WasmKernels, r: Run, node: VNode, events: VEvent[]): VNode {
  const vec = vector(r, '', [], []);
  const rep = replay(K, vec, node, events);
  if (rep.problems.length) throw new Error(rep.problems.join('; '));
  return { ...node, steps: rep.steps, final: rep.final };
}

const msgEvent = (from: string, msg: PeerMessage, now: number): VEvent => ({ kind: 'message', from, type: msg.type, hex: wire(msg), now });
const signAs = <T extends Parameters<typeof signedBytes>[0]>(region: string, m: T) => ({ ...m, sig: ed25519.sign(signedBytes(m), localSecretKey(region)) });

function build(K: WasmKernels): Record<string, Vector> {
  const happy = run(K, { round: 'pv-happy' });
  const drop = run(K, { round: 'pv-dropout', faults: { deadBeforeDeal: ['us'] } });
  const bad = run(K, { round: 'pv-inconsistent', regions: ['apac', 'eu', 'jp', 'us'], holdersOnly: ['jp'], faults: { corruptAggregate: [{ region: 'us', index: 1 }] } });
  const wrong = run(K, { round: 'pv-unexpected' });
  const equiv = run(K, { round: 'pv-equivocation' });
  const pol = run(K, { round: 'pv-policy', policy: { regions: { eu: { classification: 'personal', shareTo: ['APAC'] } } }, now: Date.parse('2026-06-15T12:00:00Z') });
  const node = (r: Run, region: string) => r.nodes.get(region)!;
  const events = (n: VNode) => n.steps.map((s) => s.event);
  /** A node's steps up to its abort and one more (the later messages are refused alike, the ticks do nothing). */
  const upToAbort = (n: VNode): VNode => ({ ...n, steps: n.steps.slice(0, n.steps.findIndex((s) => s.effects.some((e) => e.kind === 'aborted')) + 2) });

  // (d) eu: an aggregate chunk from us while collecting, and a seal from us while deciding; the
  // vector stops after the second (the rest of the round is as in happy_3regions)
  const euW = node(wrong, 'eu');
  const evW = events(euW);
  const iInput = evW.findIndex((e) => e.kind === 'input');
  const iShare = evW.findIndex((e) => e.kind === 'message' && e.type === 'share');
  const seal = signAs('us', { type: 'seal' as const, round: 'pv-unexpected', holder: 'us', result: new Uint8Array(32).fill(0x11), projection: new Uint8Array(8) });
  const euWrong = withEvents(K, wrong, euW, [
    ...evW.slice(0, iInput + 1),
    msgEvent('us', { type: 'agg', round: 'pv-unexpected', offset: 0, data: new Uint8Array((P + EXTRA_ELEMS) * 8) }, evW[iInput]!.now),
    ...evW.slice(iInput + 1, iShare + 1),
    msgEvent('us', seal, evW[iShare]!.now),
  ]);

  // (e) eu: after it published, a relayed copy of a second decision signed by apac with other holders
  const euE = node(equiv, 'eu');
  const evE = events(euE);
  const iPub = evE.findIndex((e) => e.kind === 'published');
  const first = equiv.sent.find((s) => s.to === 'eu' && s.msg.type === 'decision')!.msg as Extract<PeerMessage, { type: 'decision' }>;
  const other = signAs('apac', { type: 'decision' as const, round: first.round, coordinator: 'apac', dealers: [...first.dealers], holders: first.holders.slice(0, 2) });
  const euEquiv = withEvents(K, equiv, euE, [...evE.slice(0, iPub + 1), msgEvent('us', other, evE[iPub]!.now), evE[iPub + 1]!]);

  // (f) us: eu (which may share only with APAC) sends us a share chunk anyway
  const usP = node(pol, 'us');
  const evP = events(usP);
  const iParams = evP.findIndex((e) => e.kind === 'message' && e.from === 'eu' && e.type === 'params');
  const euShare = pol.sent.find((s) => s.from === 'eu' && s.msg.type === 'share')!.msg;
  const usPol = withEvents(K, pol, usP, [...evP.slice(0, iParams + 1), msgEvent('eu', euShare, evP[iParams]!.now), ...evP.slice(iParams + 1)]);

  return {
    happy_3regions: vector(happy, '3 regions, t = 2, every region contributes; the events of all three nodes', [...happy.nodes.values()], []),
    dropout_before_deal: vector(drop, 'us never opens the round: apac (the coordinator) waits peerWaitMs for its parameters, records the dropout, deals to apac and eu and decides without us', [node(drop, 'apac')], []),
    inconsistent_aggregate: vector(bad, "4 regions, t = 2 (two extra aggregate shares, so a wrong one can be named), jp holds but does not contribute: us's node edge publishes an aggregate share with element 1 incremented; eu's consistency check names us and eu aborts PROTOCOL_INCONSISTENT_AGGREGATE; its events end one after the abort (with 3 regions and t = 2 the inconsistency is found but nobody can be named)", [upToAbort(node(bad, 'eu'))], [
      { region: 'eu', kind: 'aborted', code: 'PROTOCOL_INCONSISTENT_AGGREGATE', culprits: ['us'] },
    ]),
    unexpected_message: vector(wrong, "eu's first events of a good round with two messages inserted: an aggregate chunk from us in phase collect and a seal from us in phase decide; both are refused PROTOCOL_UNEXPECTED_MESSAGE and the round goes on (the vector stops after the seal, in phase decide)", [euWrong], [
      { region: 'eu', kind: 'refused', code: 'PROTOCOL_UNEXPECTED_MESSAGE', culprits: [] },
    ]),
    equivocation: vector(equiv, "eu's events of a good round up to its `published`, then a relayed copy (from us) of a second decision signed by the coordinator apac with holders apac, eu only: eu aborts PROTOCOL_EQUIVOCATION naming apac; the next message is refused (phase aborted accepts nothing)", [euEquiv], [
      { region: 'eu', kind: 'aborted', code: 'PROTOCOL_EQUIVOCATION', culprits: ['apac'] },
    ]),
    policy_flow_refused: vector(pol, "us's events in a round where eu may share only with APAC (the policy is in the step): eu deals to apac and eu only, and its commits has no digest for us; one share chunk from eu is inserted after eu's parameters: us records the refused flow eu->us (a policy entry and a violation) and refuses the chunk POLICY_FLOW_REFUSED; the round completes with holders apac, eu", [usPol], [
      { region: 'us', kind: 'refused', code: 'POLICY_FLOW_REFUSED', culprits: ['eu'] },
    ]),
  };
}

/** The file text of a vector: one line per top-level field, per node field and per step (small, diffable). */
export function formatVector(v: Vector): string {
  const { nodes, ...head } = v;
  const fields = (o: object, pad: string) => Object.entries(o).map(([k, x]) => `${pad}${JSON.stringify(k)}: ${JSON.stringify(x)}`);
  const nodeText = nodes.map((n) => {
    const { steps, ...rest } = n;
    return `  {\n${[...fields(rest, '   '), `   "steps": [\n${steps.map((s) => '    ' + JSON.stringify(s)).join(',\n')}\n   ]`].join(',\n')}\n  }`;
  });
  return `{\n${[...fields(head, ' '), ` "nodes": [\n${nodeText.join(',\n')}\n ]`].join(',\n')}\n}\n`;
}

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

describe('protocol vectors v1', () => {
  it('regenerates byte for byte (deterministic), and the generator agrees with replay', () => {
    const built = build(K);
    if (process.env.MPC_WRITE_VECTORS === '1') {
      mkdirSync(DIR, { recursive: true });
      for (const [name, vec] of Object.entries(built)) writeFileSync(join(DIR, `${name}.json`), formatVector(vec));
    }
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
    expect(onDisk).toEqual(Object.keys(built).map((n) => `${n}.json`).sort());
    let total = 0;
    for (const [name, vec] of Object.entries(built)) {
      const text = readFileSync(join(DIR, `${name}.json`), 'utf8');
      total += text.length;
      expect(JSON.parse(text), name).toEqual(plain(vec));
      expect(text === formatVector(vec), `${name}.json is byte for byte what the generator writes`).toBe(true);
    }
    expect(total).toBeLessThan(200_000);
  }, 60_000);

  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json')).sort()) {
    it(`${f} replays from the JSON alone`, () => {
      const vec = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Vector;
      expect(vec.source).toMatch(/MPC_WRITE_VECTORS=1/);
      expect(vec.params).toEqual(plain(roundParamsFor(parseFederation(vec.federation), vec.params.round, vec.params.params)));
      for (const [r, k] of Object.entries(vec.keys)) {
        expect(k.secretKey, r).toBe(hex(sha256(new TextEncoder().encode(`key:${r}`))));
        expect(k.publicKey, r).toBe(hex(ed25519.getPublicKey(hexToBytes(k.secretKey))));
      }
      for (const node of vec.nodes) {
        const rep = replay(K, vec, node, node.steps.map((s) => s.event));
        expect(rep.problems, node.region).toEqual([]);
        expect(rep.steps.length).toBe(node.steps.length);
        for (const [i, s] of node.steps.entries()) {
          expect(rep.steps[i]!.effects, `${node.region} step ${i} (${s.event.kind}${s.event.kind === 'message' ? ` ${s.event.type} from ${s.event.from}` : ''})`).toEqual(s.effects);
        }
        expect(rep.final, node.region).toEqual(node.final);
        // every message is canonical wire bytes: decode, re-encode, same hex
        const msgs = node.steps.flatMap((s) => [
          ...(s.event.kind === 'message' ? [s.event.hex] : []),
          ...s.effects.flatMap((e) => (e.kind === 'send' ? [e.hex] : e.kind === 'deal' ? e.edge.map((x) => x.hex) : e.kind === 'publish' ? [e.decision, ...e.edge.map((x) => x.hex)] : [])),
        ]);
        for (const m of msgs) expect(wire(decodePeerMessage(hexToBytes(m)))).toBe(m);
      }
      for (const want of vec.expect) {
        const fx = vec.nodes.find((n) => n.region === want.region)!.steps.flatMap((s) => s.effects);
        expect(fx.filter((e) => e.kind === want.kind).map((e) => ({ code: (e as { code: string }).code, culprits: (e as { culprits: string[] }).culprits })), `${want.region} ${want.kind}`).toContainEqual({ code: want.code, culprits: want.culprits });
      }
    });
  }
});
