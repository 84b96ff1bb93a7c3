/**
 * One region's node: the composition of the peer network, the trainer intake and the round
 * protocol. It turns socket traffic, trainer submissions and the clock into `step()` events and
 * carries out the effects (sending, recording, streaming shares, answering trainers). Every
 * protocol decision is in src/protocol/ (entry round.ts); this file moves bytes and keeps time,
 * with trainer intake in trainer-intake.ts, the share streams in streams.ts and the open rounds
 * in round-registry.ts.
 * @module
 */
import { totalmem } from 'node:os';
import { nativeSigner, nativeVerifier } from './ed25519-native.js';
import { federationSummary, regionById, regionPublicKey, type Federation, type FederationSummary } from '../federation/index.js';
import { MpcError, ProtocolError, type ErrorCode } from '../errors.js';
import { aesCtrRandom, nodeRandom } from '../field/random-node.js';
import type { WasmKernels } from '../field/wasm.js';
import type { PeerMessage } from '../protocol/messages.js';
import { initialState, roundTiming, step, type Effect, type RoundEvent, type RoundTiming } from '../protocol/round.js';
import type { RoundResult } from '../protocol/memory/index.js';
import { roundParamsFor } from '../protocol/params.js';
import { nodeHash } from './node-hash.js';
import { PeerNetwork, type PeerInfo } from '../transport/peer-network.js';
import { decodePeerMessage, encodePeerMessageParts, MAX_MESSAGE_BYTES } from '../wire/codec.js';
import { RoundTranscript } from './round-transcript.js';
import { RoundAdmission } from './round-admission.js';
import { defaultMemoryBudget, MemoryBudget } from '../protocol/memory/budget.js';
import { noteMoved } from './gc-pacer.js';
import { policyDigest, type PolicyDecision } from '../policy/index.js';
import { createNodeMetrics, type NodeMetrics, type ViolationKind } from './metrics.js';
import type { Logger, RegionNodeOptions, SubmitRequest, UpdateUpload } from './node-options.js';
import { roundManifest } from '../core/tensor-manifest.js';
import { RoundRegistry, type Round, type Uploads } from './round-registry.js';
import { TrainerIntake } from './trainer-intake.js';
import { launchStream, StallWatch, type StreamHost } from './streams.js';

export type { AggregateAnswer, Logger, RegionNodeOptions, SubmitRequest, UpdateUpload } from './node-options.js';

export class RegionNode {
  readonly region: string;
  readonly federation: Federation;
  readonly net: PeerNetwork;
  private readonly K: WasmKernels;
  private readonly log: Logger;
  private readonly rounds = new RoundRegistry();
  private readonly intake: TrainerIntake;
  private readonly streams: StreamHost;
  private readonly stalls = new StallWatch(); // wakes the streams waiting on a link when links stall, flow, go or come
  private readonly signer: (msg: Uint8Array) => Uint8Array;
  private readonly verifier: (region: string, msg: Uint8Array, sig: Uint8Array) => boolean;
  private readonly timing: RoundTiming;
  private readonly summary: FederationSummary | null; // sent with our params (src/federation/summary.ts)
  /** Rounds in flight, the memory budget, the rate of rounds peers open, pending uploads. */
  private readonly admission: RoundAdmission;
  private tick: NodeJS.Timeout | undefined;
  private readonly lastSend = new Map<string, Promise<void>>();
  private closing = false;
  readonly counters = { roundsDone: 0, roundsAborted: 0, roundsRefused: 0, refusedMessages: 0, refusedConnections: 0, policyViolations: 0 };
  /** Prometheus metrics (GET /metrics). */
  readonly metrics: NodeMetrics;

  constructor(private readonly opts: RegionNodeOptions) {
    const f = opts.federation;
    this.federation = f;
    this.region = opts.identity.region;
    const me = regionById(f, this.region);
    if (Buffer.from(opts.identity.publicKey).toString('hex') !== me.publicKey) {
      throw new MpcError('CONFIG_INVALID', `the identity key's public key does not match the federation's publicKey for region ${this.region}: use the key made by 'mpc-node keygen --region ${this.region}' or update the federation file`);
    }
    this.K = opts.kernels;
    this.log = opts.log ?? (() => {});
    this.signer = nativeSigner(opts.identity.secretKey);
    this.verifier = nativeVerifier(new Map(f.regions.map((r) => [r.id, regionPublicKey(r)])));
    const r = f.round;
    this.timing = roundTiming(r);
    this.summary = federationSummary(f);
    this.metrics = createNodeMetrics({
      region: this.region,
      peers: f.regions.filter((x) => x.id !== this.region).map((x) => x.id),
      snapshot: () => {
        const st = this.net.stats();
        return {
          peersConnected: this.net.connectedPeers().length,
          roundsInFlight: this.rounds.size,
          activeTrainers: this.rounds.list().reduce((n, r) => n + r.trainers, 0),
          ...this.admission.memoryFigures(),
          bytesSent: st.bytesSent, bytesReceived: st.bytesReceived, drainTimeouts: st.drainTimeouts,
        };
      },
    });
    const budget = new MemoryBudget(opts.memoryBudgetBytes ?? defaultMemoryBudget(totalmem()));
    this.admission = new RoundAdmission({
      federation: f, rounds: this.rounds, kernels: this.K, hash: nodeHash, budget, metrics: this.metrics, log: this.log,
      refusedRound: (d, context) => void (this.counters.roundsRefused++, this.violation(d, context)),
      wakeSumWaiters: (u) => this.intake.wakeSumWaiters(u),
      testFaults: opts.testFaults,
    });
    this.intake = new TrainerIntake({
      federation: f, rounds: this.rounds, peerWaitMs: this.timing.peerWaitMs, log: this.log,
      closing: () => this.closing,
      prepare: (id, params) => this.admission.prepare(id, params),
      reserveStaging: (id, params) => this.admission.reserveStaging(id, params),
      openRound: (u) => this.openRound(u.id, u.params, undefined, u),
      dropPending: (u) => this.admission.dropPending(u),
      apply: (round, ev) => this.apply(round, ev),
      updateAccepted: (clipFactor) => this.metrics.updateAccepted(clipFactor < 1),
    });
    this.streams = {
      isLive: (round) => this.rounds.isLive(round), linked: (peer) => this.net.isConnected(peer),
      stalled: (peer) => this.net.isStalled(peer), watchStalls: (wake) => this.stalls.watch(wake),
      send: (to, msg) => this.send(to, msg), apply: (round, ev) => this.apply(round, ev), abort: (round, err) => this.endRound(round, 'aborted', err),
    };
    const peers = new Map<string, PeerInfo>(f.regions.filter((x) => x.id !== this.region).map((x) => [x.id, { publicKey: regionPublicKey(x), endpoint: x.endpoint }]));
    const ep = new URL(me.endpoint);
    this.net = new PeerNetwork({
      federation: f.federation,
      identity: opts.identity,
      peers,
      listen: opts.peerListen ?? { host: ep.hostname, port: Number(ep.port) },
      maxMessageBytes: MAX_MESSAGE_BYTES,
      // message bytes are views of the network's receive buffer: onPeerBytes copies what it keeps
      reuseBuffers: true,
      log: (e) => this.log({ ...e, component: 'transport' }),
      ...(opts.onDecrypted ? { onDecrypted: opts.onDecrypted } : {}),
    });
    this.net.on('message', (from, bytes) => this.onPeerBytes(from, bytes));
    for (const kind of ['peer-up', 'peer-down', 'peer-stalled', 'peer-flowing'] as const) {
      this.net.on(kind, (p) => (this.stalls.wake(), this.rounds.list().forEach((r) => this.apply(r, { kind, peer: p, now: Date.now() }))));
    }
    this.net.on('refused', (info: { code?: string }) => {
      this.counters.refusedConnections++;
      this.metrics.refusedConnection(String(info.code ?? 'OTHER'));
    });
  }

  /** A refused policy decision: counted, logged at once (recorded in the transcript by the protocol). */
  private violation(d: PolicyDecision, context: Record<string, unknown>, kind: ViolationKind = d.rule): void {
    this.counters.policyViolations++;
    this.metrics.policyViolation(kind);
    if (this.opts.violation) this.opts.violation(d, context);
    else this.log({ event: 'policy-violation', ...context, rule: d.rule, subject: d.subject, outcome: d.outcome, reason: d.reason, grant: d.grant });
  }

  async start(): Promise<{ peerPort: number }> {
    const { port } = await this.net.start();
    this.tick = setInterval(() => this.onTick(), this.opts.tickMs ?? 100);
    this.tick.unref();
    return { peerPort: port };
  }

  /** Rejects waiting trainers, wipes share material, closes links. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.tick) clearInterval(this.tick);
    for (const r of this.rounds.list()) {
      if (r.state.phase === 'done') {
        // result delivered, seals pending: the transcript ends unsealed
        const missing = r.state.decision?.holders.filter((h) => !r.state.seals?.[h]) ?? [];
        r.tx?.append({ kind: 'unsealed', body: { missing, reason: `node ${this.region} shut down before every seal arrived` } });
        this.cleanup(r, 'done');
        continue;
      }
      this.endRound(r, 'aborted', new ProtocolError('PROTOCOL_ABORTED', `node ${this.region} is shutting down`));
    }
    for (const u of this.rounds.pendingList()) this.admission.dropPending(u);
    await this.net.close();
  }

  status(): Record<string, unknown> {
    return {
      region: this.region,
      federation: this.federation.federation,
      policyDigest: policyDigest(this.federation),
      peersConnected: this.net.connectedPeers(),
      roundsInFlight: this.rounds.list().map((r) => ({ round: r.id, phase: r.state.phase, trainers: r.trainers })),
      uploadsPending: this.rounds.pendingList().map((u) => ({ round: u.id, uploading: u.uploading })),
      memory: this.admission.memoryStatus(),
      ...this.counters,
      bytes: this.net.stats(),
    };
  }

  /**
   * Starts one trainer's update for its round (which opens when its first update commits); see TrainerIntake.
   * @throws {MpcError} API_BAD_REQUEST, WIRE_TOO_LARGE, FIELD_LENGTH_MISMATCH, PROTOCOL_*, POLICY_ROUNDS_IN_FLIGHT, RESOURCE_MEMORY_BUDGET at once on a bad request.
   */
  submit(req: SubmitRequest): UpdateUpload {
    return this.intake.submit(req);
  }

  /**
   * Opens a round: for this region's trainers (`from` undefined) once its first update is in
   * `uploads`; for a peer's params, taking over this node's pending uploads of the round when
   * they have the same length, else with memory of its own (reserved now, allocated as shares
   * arrive or this node's trainers upload).
   * @param from - The peer whose params opened it (undefined: a trainer of this region).
   * @throws {MpcError} POLICY_ROUNDS_IN_FLIGHT (counted as a refused round and a violation), RESOURCE_MEMORY_BUDGET, STORAGE_CONFLICT, STORAGE_FAILED.
   */
  private openRound(id: string, params: number, from?: string, uploads?: Uploads, tensors?: string): Round {
    const now = Date.now();
    this.admission.checkInFlight(id, from);
    // the manifest of this node's first update, or the opening peer's (the codec checked its digest)
    const manifest = uploads ? uploads.manifest : tensors === undefined ? undefined : roundManifest(tensors);
    // the same definition the verifier recomputes from the federation file
    const p = roundParamsFor(this.federation, id, params, manifest?.digest);
    // a round id that already has a transcript on disk is refused (throws); a peer's round
    // writes its file only once it records something worth keeping (round-transcript.ts)
    const dir = this.opts.transcriptsDir;
    const { u, tx } = this.admission.withMemory(id, params, from, uploads, () => (dir ? new RoundTranscript(dir, id, this.region, this.signer, from === undefined) : null));
    u.manifest = manifest;
    const projSeed = new Uint8Array(32);
    nodeRandom(projSeed);
    const r: Round = {
      id, state: initialState(this.region, p, this.timing, now), memory: u.memory, uploads: u,
      waiters: [], trainers: 0, trainerIds: new Set(), expect: undefined, collectTimer: undefined, collectDue: false, projSeed, startedAt: now, tx,
    };
    u.round = r;
    this.rounds.dropPending(u);
    this.rounds.add(r);
    this.intake.startCollection(r);
    this.apply(r, { kind: 'open', now });
    for (const peer of this.net.connectedPeers()) if (this.net.isStalled(peer)) this.apply(r, { kind: 'peer-stalled', peer, now });
    this.log({ event: 'round-open', round: id, params, ...(from ? { from } : {}) }); // after the open: our parameters are out
    return r;
  }

  /** Set by the afterDeal test fault: every later peer message and tick is ignored. */
  private frozen = false;

  private onPeerBytes(from: string, bytes: Uint8Array): void {
    noteMoved(bytes.length);
    if (this.frozen) return;
    let msg: PeerMessage;
    try {
      // `bytes` is the network's reused receive buffer: only a vector chunk's data stays a view
      // of it, consumed before this returns (copied into WASM memory) or copied when held back
      msg = decodePeerMessage(bytes);
    } catch (e) {
      this.refuseMessage({ from, code: (e as MpcError).code, reason: (e as Error).message });
      return;
    }
    let r = this.rounds.get(msg.round);
    if (!r) {
      if (this.rounds.endedOf(msg.round)) return; // late traffic of an ended round
      if (msg.type !== 'params') {
        this.refuseMessage({ from, round: msg.round, code: 'PROTOCOL_UNEXPECTED_MESSAGE', reason: `${msg.type} for a round this node has not opened` });
        return;
      }
      const refusal = this.admission.peerMayOpen(from, msg.round, msg.params.params, Date.now());
      if (refusal?.refused === 'limit') return this.refuseMessage({ from, round: msg.round, code: 'PROTOCOL_LIMIT_EXCEEDED', reason: refusal.reason });
      if (refusal) return void this.counters.refusedMessages++; // throttled: counted, logged once per burst
      const pending = this.rounds.pendingOf(msg.round);
      // this node's pending uploads join only a round of their own length and model
      const joins = pending?.params === msg.params.params && pending.manifest?.digest === msg.params.manifest;
      try {
        r = this.openRound(msg.round, msg.params.params, from, joins ? pending : undefined, msg.tensors);
      } catch (e) {
        this.refuseMessage({ from, round: msg.round, code: (e as MpcError).code, reason: (e as Error).message });
        return;
      }
    }
    this.apply(r, { kind: 'message', from, msg, now: Date.now() });
  }

  /** A peer message that was not taken: counted and logged; the node and the round go on. */
  private refuseMessage(detail: { from: string; round?: string; code: string; reason: string }): void {
    this.counters.refusedMessages++;
    this.log({ event: 'refused-message', ...detail });
  }

  private onTick(): void {
    if (this.frozen) return;
    const now = Date.now();
    for (const r of this.rounds.list()) this.apply(r, { kind: 'tick', now });
    this.rounds.forget(now);
  }

  private apply(r: Round, ev: RoundEvent): void {
    if (!this.rounds.isLive(r)) return;
    const ctx = {
      memory: r.memory,
      sign: this.signer,
      verify: this.verifier,
      projectionRng: () => aesCtrRandom(r.projSeed),
      policy: this.federation, summary: this.summary, manifest: r.uploads.manifest,
    };
    let out;
    try {
      out = step(r.state, ev, ctx);
    } catch (e) {
      // a bug, not a peer fault: end the round rather than the process
      this.log({ event: 'internal-error', round: r.id, reason: (e as Error).message });
      this.endRound(r, 'aborted', new ProtocolError('PROTOCOL_ABORTED', `internal error in round ${r.id}: ${(e as Error).message}`));
      return;
    }
    r.state = out.state;
    for (const e of out.effects) this.perform(r, e);
  }

  private send(to: string, msg: PeerMessage): Promise<void> {
    // net.send encrypts synchronously, in call order per peer: the link keeps our order, and
    // vector chunks can be views of WASM memory (no envelope copy)
    const parts = encodePeerMessageParts(msg);
    for (const p of parts) noteMoved(p.length);
    const sent = this.net.send(to, parts).catch((e: Error) => {
      this.log({ event: 'send-failed', to, type: msg.type, round: msg.round, reason: e.message });
    });
    this.lastSend.set(to, sent); // the latest send per peer (the after-deal test fault waits on them)
    return sent;
  }

  private perform(r: Round, e: Effect): void {
    switch (e.kind) {
      case 'send':
        if (e.msg.type === 'seal') r.tx?.sync(); // the sealed result is on disk before we vouch for it
        void this.send(e.to, e.msg);
        return;
      case 'record':
        r.tx?.append(e.record);
        return;
      case 'sealed':
        r.tx?.close();
        this.log({ event: e.complete ? 'round-sealed' : 'round-unsealed', round: r.id });
        this.cleanup(r, 'done');
        return;
      case 'deal':
      case 'stream-shares':
      case 'publish':
        launchStream(this.streams, r, e, this.region, nodeRandom, this.opts.testFaults?.afterDeal ? () => this.dieAfterDeal() : undefined);
        return;
      case 'result':
        r.tx?.sync(); // the transcript (check, result) is durable before trainers get the answer
        this.finishRound(r, e.result, e.contributors, e.holders);
        return;
      case 'aborted':
        this.endRound(r, 'aborted', e.error);
        return;
      case 'refused':
        this.refuseMessage({ round: r.id, from: e.from, code: e.error.code, reason: e.error.message });
        return;
      case 'log':
        this.log({ event: e.event, ...e.detail });
        return;
      case 'violation':
        this.violation(e.decision, { round: r.id });
        return;
    }
  }

  /** The afterDeal test fault: from here on the node takes part in nothing, as if it had died. */
  private async dieAfterDeal(): Promise<void> {
    this.frozen = true;
    await Promise.all(this.lastSend.values()); // shares and commitments are out
    this.opts.testFaults!.afterDeal!();
  }

  private finishRound(r: Round, res: RoundResult, contributors: readonly string[], holders: readonly string[]): void {
    // every answer reads the result from WASM memory in pieces (no model-sized JavaScript
    // array); the result vector outlives the round's other vectors until the last release
    for (const w of r.waiters) {
      const [release, held] = [r.memory.retainResult(), r.uploads.reservation.hold()]; // the result's memory stays reserved too
      const reduce = w.reduce;
      w.resolve({ params: res.params, totalWeight: res.totalWeight, contributors, holders, read: (o, out) => res.read(o, out, reduce), release: () => (release(), held()) });
    }
    r.waiters = [];
    this.counters.roundsDone++;
    this.metrics.roundEnded('done', (Date.now() - r.startedAt) / 1000);
    this.log({ event: 'round-done', round: r.id, contributors, holders, ms: Date.now() - r.startedAt });
    // the round stays open (phase done) until every holder's seal is in or the seal deadline; a
    // version-2 holder keeps its aggregate share until then (its targets, and a node that pulls
    // it, may not have it yet): the round's end wipes it
    if (!r.state.v2) this.wipe(r);
  }

  /** Stops the collection timer and wipes the round's share material (idempotent). */
  private wipe(r: Round): void {
    if (r.collectTimer) clearTimeout(r.collectTimer);
    r.memory.zeroize();
    r.projSeed.fill(0);
  }

  private endRound(r: Round, outcome: 'aborted', err: MpcError): void {
    if (!this.rounds.isLive(r)) return;
    for (const w of r.waiters) w.reject(err);
    r.waiters = [];
    this.counters.roundsAborted++;
    this.metrics.roundEnded('aborted', (Date.now() - r.startedAt) / 1000, err.code);
    this.log({ event: 'round-aborted', round: r.id, code: err.code, reason: err.message });
    this.cleanup(r, outcome, err.message, err.code);
  }

  private cleanup(r: Round, outcome: 'done' | 'aborted', detail?: string, code?: ErrorCode): void {
    r.tx?.close();
    this.wipe(r); // share material is wiped when the round ends
    r.uploads.reservation.release();
    this.rounds.end(r, { outcome, ...(detail ? { detail } : {}), ...(code ? { code } : {}) }, Date.now());
    this.intake.roundEnded(r); // waiting commits find the round ended; answers kept for retries are let go
  }
}
