/**
 * One region's node: the composition of the peer network, the trainer API and the round
 * protocol. It turns socket traffic and trainer submissions into `step()` events and carries out
 * the effects (sending, streaming shares, answering trainers). All protocol decisions are in
 * src/protocol/round.ts; this file only moves bytes and keeps time.
 * @module
 */
import { createHash } from 'node:crypto';
import { nativeSigner, nativeVerifier } from './ed25519-native.js';
import { regionById, regionPublicKey, type Federation } from '../federation/index.js';
import { MpcError, PolicyError, ProtocolError, type ErrorCode } from '../errors.js';
import { aesCtrRandom, nodeRandom } from '../field/random-node.js';
import type { WasmKernels } from '../field/wasm.js';
import { isRoundId, ROUND_ID_RULE } from '../core/ids.js';
import type { PeerMessage } from '../protocol/messages.js';
import { initialState, roundTiming, step, type Effect, type RoundEvent, type RoundState, type RoundTiming } from '../protocol/round.js';
import { RoundVectors, type RoundResult, type UpdateStaging } from '../protocol/vectors.js';
import { EXTRA_ELEMS } from '../protocol/params.js';
import type { HashFactory } from '../core/crypto.js';
import type { Identity } from '../transport/identity.js';
import { PeerNetwork, type PeerInfo } from '../transport/peer-network.js';
import { decodePeerMessage, encodePeerMessageParts, MAX_MESSAGE_BYTES } from '../wire/codec.js';
import { TranscriptFile } from './transcript-file.js';
import { noteMoved } from './gc-pacer.js';
import { roundParamsFor } from '../protocol/params.js';
import { checkRoundsInFlight, policyDigest, type PolicyDecision } from '../policy/index.js';
import { createNodeMetrics, type NodeMetrics, type ViolationKind } from './metrics.js';

export type Logger = (event: Record<string, unknown>) => void;

export interface RegionNodeOptions {
  federation: Federation;
  identity: Identity;
  kernels: WasmKernels;
  /** Override the peer listen address (default: host and port of this region's endpoint). */
  peerListen?: { host: string; port: number };
  log?: Logger;
  /**
   * Called the moment a policy decision is refused (start.ts passes logger.violation); default:
   * a `policy-violation` event on `log`. Also counted in metrics and recorded in the transcript.
   */
  violation?: (decision: PolicyDecision, context: Record<string, unknown>) => void;
  /** Test hook: every decrypted peer message (as the protocol layer receives it). */
  onDecrypted?: (from: string, plaintext: Uint8Array) => void;
  /** Where round transcripts are written (<dataDir>/transcripts); none are written without it. */
  transcriptsDir?: string;
  /** Tick period for deadlines (ms). */
  tickMs?: number;
  /** Fault injection for the multi-process tests (MPC_TEST_FAULT): never set in production. */
  testFaults?: { afterDeal?: () => void };
}

export interface SubmitRequest {
  round: string;
  /** Number of float32 values the update will have. */
  params: number;
  weight: number;
  reduce: 'sum' | 'mean';
  /** Close this region's collection once this many updates are in (else after collectMs). */
  expect?: number;
}

/**
 * One trainer's update on its way into the node: its raw little-endian float32 bytes are
 * written straight into WASM memory as they arrive (no model-sized JavaScript array), then
 * committed. secret: the bytes are trainer input; they are wiped on commit and on abort.
 */
export interface UpdateUpload {
  /** Appends body bytes, in order. @throws {MpcError} past the announced length or after the round ended. */
  write(chunk: Uint8Array): void;
  /**
   * The body is complete: validates (length, finite values, norm), clips, encodes and adds it to
   * the regional sum, and resolves with the global aggregate when the round ends.
   * @throws {MpcError} API_BAD_REQUEST, ENCODE_*, FIELD_LENGTH_MISMATCH on bad input or a closed collection.
   */
  commit(): Promise<AggregateAnswer>;
  /** The upload failed: wipes and releases the staged bytes. Idempotent. */
  abort(): void;
}

/**
 * The global aggregate, read in pieces from the node's memory: call `release()` when done (the
 * round's result vector is wiped once every answer is released).
 */
export interface AggregateAnswer {
  /** Number of values. */
  params: number;
  totalWeight: number;
  contributors: readonly string[];
  holders: readonly string[];
  /** Decodes values [offset, offset + out.length) of the requested reduction (sum or mean) into `out`. */
  read(offset: number, out: Float32Array): void;
  release(): void;
}

interface Waiter {
  reduce: 'sum' | 'mean';
  resolve(a: AggregateAnswer): void;
  reject(e: Error): void;
}

interface Round {
  id: string;
  state: RoundState;
  vectors: RoundVectors;
  waiters: Waiter[];
  trainers: number;
  expect: number | undefined;
  collectTimer: NodeJS.Timeout | undefined;
  /** collectMs has passed while uploads were in flight: close once they settle (see `collectionTimeUp`). */
  collectDue: boolean;
  projSeed: Uint8Array;
  startedAt: number;
  /** This round's transcript file (null without transcriptsDir). */
  tx: TranscriptFile | null;
  /** True while our own aggregate share is being streamed out (see `publish`). */
  publishing: boolean;
  /** Peer messages held back while publishing, in arrival order (see `onPeerBytes`). */
  deferred: { from: string; msg: PeerMessage }[];
  /** Uploads begun and not yet committed or aborted (they count against maxTrainersPerRound). */
  uploading: number;
  /** Commits waiting for the in-place first update to settle (`RoundVectors.sumBusy`). */
  sumWaiters: (() => void)[];
}

const FINISHED_MEMORY = 1000;

/**
 * Lets the event loop run between two streamed chunks. On loopback (and on any link whose
 * kernel buffer has room) every send completes at once, so without this a dealer would stream
 * its whole vector in one macrotask: incoming shares wait unread, and every chunk's frame and
 * cipher output (~1 MiB) stays allocated until the end (measured: 110-150 MB of dead
 * ArrayBuffers at 1e7 parameters).
 */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const nodeHash: HashFactory = () => {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
};

export class RegionNode {
  readonly region: string;
  readonly federation: Federation;
  readonly net: PeerNetwork;
  private readonly K: WasmKernels;
  private readonly identity: Identity;
  private readonly log: Logger;
  private readonly rounds = new Map<string, Round>();
  private readonly finished = new Map<string, { outcome: 'done' | 'aborted'; at: number; detail?: string; code?: ErrorCode }>();
  private readonly signer: (msg: Uint8Array) => Uint8Array;
  private readonly verifier: (region: string, msg: Uint8Array, sig: Uint8Array) => boolean;
  private readonly timing: RoundTiming;
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
    this.identity = opts.identity;
    this.log = opts.log ?? (() => {});
    this.signer = nativeSigner(opts.identity.secretKey);
    this.verifier = nativeVerifier(new Map(f.regions.map((r) => [r.id, regionPublicKey(r)])));
    const r = f.round;
    this.timing = roundTiming(r);
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
    this.net.on('peer-up', (p) => {
      for (const r of [...this.rounds.values()]) this.apply(r, { kind: 'peer-up', peer: p, now: Date.now() });
    });
    this.net.on('refused', (info: { code?: string }) => {
      this.counters.refusedConnections++;
      this.metrics.refusedConnection(String(info.code ?? 'OTHER'));
    });
    this.metrics = createNodeMetrics({
      region: this.region,
      peers: [...peers.keys()],
      snapshot: () => {
        const st = this.net.stats();
        return {
          peersConnected: this.net.connectedPeers().length,
          roundsInFlight: this.rounds.size,
          activeTrainers: [...this.rounds.values()].reduce((n, r) => n + r.trainers, 0),
          bytesSent: st.bytesSent,
          bytesReceived: st.bytesReceived,
        };
      },
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
    for (const r of [...this.rounds.values()]) {
      if (r.state.phase === 'done') {
        // result delivered, seals pending: the transcript ends unsealed
        const missing = r.state.decision?.holders.filter((h) => !r.state.seals?.[h]) ?? [];
        r.tx?.append({ kind: 'unsealed', body: { missing, reason: `node ${this.region} shut down before every seal arrived` } });
        this.cleanup(r, 'done');
        continue;
      }
      this.endRound(r, 'aborted', new ProtocolError('PROTOCOL_ABORTED', `node ${this.region} is shutting down`));
    }
    await this.net.close();
  }

  status(): Record<string, unknown> {
    return {
      region: this.region,
      federation: this.federation.federation,
      policyDigest: policyDigest(this.federation),
      peersConnected: this.net.connectedPeers(),
      roundsInFlight: [...this.rounds.values()].map((r) => ({ round: r.id, phase: r.state.phase, trainers: r.trainers })),
      ...this.counters,
      bytes: this.net.stats(),
    };
  }

  // ---- trainers ----

  /**
   * Starts one trainer's update for its round (opening the round if needed). Checks everything
   * that can be checked before the body arrives.
   * @throws {MpcError} API_BAD_REQUEST, FIELD_LENGTH_MISMATCH, PROTOCOL_* at once on a bad request.
   */
  submit(req: SubmitRequest): UpdateUpload {
    if (this.closing) throw new MpcError('PROTOCOL_ABORTED', 'node is shutting down');
    const cfg = this.federation.round;
    if (!isRoundId(req.round)) throw new MpcError('API_BAD_REQUEST', ROUND_ID_RULE);
    if (!(req.weight > 0) || !Number.isFinite(req.weight) || req.weight > cfg.maxWeight) {
      throw new MpcError('API_BAD_REQUEST', `weight must be a number in (0, ${cfg.maxWeight}] (round.maxWeight), got ${req.weight}`);
    }
    if (!Number.isSafeInteger(req.params) || req.params < 1 || req.params > cfg.maxParams) {
      throw new MpcError('API_BAD_REQUEST', `update must have 1..${cfg.maxParams} values (round.maxParams), got ${req.params}`);
    }
    const ended = this.finished.get(req.round);
    if (ended) {
      // say why: a trainer that arrives after the round aborted gets the round's own reason
      if (ended.outcome === 'aborted') throw new ProtocolError(ended.code ?? 'PROTOCOL_ABORTED', `round ${req.round} has already ended: ${ended.detail ?? 'aborted'}`);
      throw new MpcError('API_BAD_REQUEST', `round ${req.round} has already ended with a result; use a new round id`);
    }
    let r = this.rounds.get(req.round);
    if (r) this.checkAccepting(r, req.params);
    else r = this.openRound(req.round, req.params);
    if (r.trainers + r.uploading >= cfg.maxTrainersPerRound) throw new MpcError('API_BAD_REQUEST', `round ${req.round} already has ${cfg.maxTrainersPerRound} updates (round.maxTrainersPerRound)`);
    const round = r;
    const staging = round.vectors.beginUpdate();
    round.uploading++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      round.uploading--;
      round.vectors.abortUpdate(staging); // wipes; a no-op after a commit
      if (staging.inPlace) this.wakeSumWaiters(round);
      if (round.uploading === 0 && round.collectDue) this.closeCollection(round);
    };
    return {
      write: (chunk) => {
        if (settled || this.rounds.get(round.id) !== round) throw new MpcError('PROTOCOL_ABORTED', `round ${round.id} ended while the update was uploading`);
        round.vectors.writeUpdate(staging, chunk);
      },
      commit: async () => {
        try {
          return await this.commitUpload(round, staging, req);
        } finally {
          settle();
        }
      },
      abort: settle,
    };
  }

  /** @throws {MpcError} when round `r` no longer takes updates of this region, or of this length. */
  private checkAccepting(r: Round, params: number): void {
    if (r.state.phase !== 'collect' || r.state.input) {
      throw new MpcError('API_BAD_REQUEST', `round ${r.id} no longer accepts updates from this region (collection closed); use a new round id`);
    }
    if (r.state.params.params !== params) {
      throw new MpcError('FIELD_LENGTH_MISMATCH', `update has ${params} values, round ${r.id} has ${r.state.params.params}`);
    }
  }

  private wakeSumWaiters(r: Round): void {
    const w = r.sumWaiters;
    r.sumWaiters = [];
    for (const f of w) f();
  }

  private async commitUpload(r: Round, staging: UpdateStaging, req: SubmitRequest): Promise<AggregateAnswer> {
    // the round's first update is staged inside the regional sum: later ones wait for it
    while (!staging.inPlace && r.vectors.sumBusy && this.rounds.get(r.id) === r) await new Promise<void>((res) => r.sumWaiters.push(res));
    const ended = this.finished.get(r.id);
    if (this.rounds.get(r.id) !== r) throw new ProtocolError(ended?.code ?? 'PROTOCOL_ABORTED', `round ${r.id} ended while the update was uploading${ended?.detail ? `: ${ended.detail}` : ''}`);
    this.checkAccepting(r, req.params);
    // validates (NaN, bound, length) before touching the regional sum
    r.vectors.commitUpdate(staging, req.weight, this.federation.round);
    r.trainers++;
    if (req.expect !== undefined) r.expect = req.expect;
    const p = new Promise<AggregateAnswer>((resolve, reject) => r.waiters.push({ reduce: req.reduce, resolve, reject }));
    this.log({ event: 'update-accepted', round: r.id, trainers: r.trainers });
    if (r.expect !== undefined && r.trainers >= r.expect) this.closeCollection(r);
    return p;
  }

  /**
   * @param from - The peer whose params opened it (undefined: a trainer of this region).
   * @throws {PolicyError} POLICY_ROUNDS_IN_FLIGHT beyond policy.maxRoundsInFlight (counted as a refused round and a violation).
   */
  private openRound(id: string, params: number, from?: string): Round {
    const now = Date.now();
    const inFlight = checkRoundsInFlight(this.federation, id, this.rounds.size);
    if (inFlight.outcome === 'refused') {
      this.counters.roundsRefused++;
      this.metrics.roundEnded('refused', 0);
      this.violation(inFlight, { round: id, ...(from ? { from } : {}) });
      throw new PolicyError('POLICY_ROUNDS_IN_FLIGHT', `round ${id} refused: ${inFlight.reason}`, { rule: inFlight.rule });
    }
    // the same definition the verifier recomputes from the federation file
    const p = roundParamsFor(this.federation, id, params);
    // first: a round id that already has a transcript on disk is refused (throws)
    const tx = this.opts.transcriptsDir ? new TranscriptFile(this.opts.transcriptsDir, id, this.region, this.signer) : null;
    const projSeed = new Uint8Array(32);
    nodeRandom(projSeed);
    const r: Round = {
      id, state: initialState(this.region, p, this.timing, now), vectors: new RoundVectors(this.K, params + EXTRA_ELEMS, nodeHash, aesCtrRandom),
      waiters: [], trainers: 0, expect: undefined, collectTimer: undefined, collectDue: false, projSeed, startedAt: now, tx,
      publishing: false, deferred: [], uploading: 0, sumWaiters: [],
    };
    this.rounds.set(id, r);
    r.collectTimer = setTimeout(() => this.collectionTimeUp(r), this.federation.round.collectMs);
    r.collectTimer.unref();
    this.log({ event: 'round-open', round: id, params });
    this.apply(r, { kind: 'open', now });
    return r;
  }

  /**
   * collectMs is over. Uploads that began in time (their headers arrived) may still be streaming
   * in: a large model takes a while. Keep the collection open until they settle, but no longer
   * than peerWaitMs after the round opened (the time the other regions give this one before
   * they deal without it), then close whatever is in.
   */
  private collectionTimeUp(r: Round): void {
    r.collectTimer = undefined;
    if (r.uploading === 0) return this.closeCollection(r);
    r.collectDue = true;
    this.log({ event: 'collection-extended', round: r.id, uploading: r.uploading });
    r.collectTimer = setTimeout(() => this.closeCollection(r), Math.max(0, r.startedAt + this.timing.peerWaitMs - Date.now()));
    r.collectTimer.unref();
  }

  private closeCollection(r: Round): void {
    if (r.collectTimer) clearTimeout(r.collectTimer);
    r.collectTimer = undefined;
    if (r.state.input || !this.rounds.has(r.id)) return;
    this.apply(r, { kind: 'input', contributes: r.trainers > 0, trainers: r.trainers, now: Date.now() });
  }

  // ---- peers ----

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
      if (this.finished.has(msg.round)) return; // late traffic of an ended round
      if (msg.type !== 'params') {
        this.refuseMessage({ from, round: msg.round, code: 'PROTOCOL_UNEXPECTED_MESSAGE', reason: `${msg.type} for a round this node has not opened` });
        return;
      }
      if (msg.params.params < 1 || msg.params.params > this.federation.round.maxParams) {
        this.refuseMessage({ from, round: msg.round, code: 'PROTOCOL_LIMIT_EXCEEDED', reason: `round of ${msg.params.params} parameters is outside 1..${this.federation.round.maxParams} (round.maxParams)` });
        return;
      }
      try {
        r = this.openRound(msg.round, msg.params.params, from);
      } catch (e) {
        this.refuseMessage({ from, round: msg.round, code: (e as MpcError).code, reason: (e as Error).message });
        return;
      }
    }
    // While our aggregate share is still streaming out, a peer's agg-done could complete the
    // round here before our own agg-done is sent (and before the stream ends): hold agg-done and
    // everything after it from that peer until our 'published' event has been applied.
    if (r.publishing && (msg.type === 'agg-done' || r.deferred.some((d) => d.from === from))) {
      r.deferred.push({ from, msg: msg.type === 'share' || msg.type === 'agg' ? { ...msg, data: new Uint8Array(msg.data) } : msg });
      return;
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
    for (const r of [...this.rounds.values()]) this.apply(r, { kind: 'tick', now });
    for (const [id, f] of this.finished) if (now - f.at > 3_600_000 || this.finished.size > FINISHED_MEMORY) this.finished.delete(id);
  }

  private apply(r: Round, ev: RoundEvent): void {
    if (!this.rounds.has(r.id)) return;
    const ctx = {
      vectors: r.vectors,
      sign: this.signer,
      verify: this.verifier,
      projectionRng: () => aesCtrRandom(r.projSeed),
      policy: this.federation,
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
        void this.deal(r, e.holders);
        return;
      case 'publish':
        void this.publish(r, e.to, e.decision);
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

  private async deal(r: Round, holders: readonly string[]): Promise<void> {
    const p = r.state.params;
    const xs = holders.map((h) => p.participants.indexOf(h) + 1);
    const selfX = p.participants.indexOf(this.region) + 1;
    const it = r.vectors.dealChunks(p.threshold, p.participants.length, xs, selfX, nodeRandom);
    try {
      for (;;) {
        // checked before resuming the generator: once the round has ended its vectors are wiped
        // and freed (and may already belong to another round), so never compute on them again
        if (!this.rounds.has(r.id)) return;
        const s = it.next();
        if (s.done) {
          const digests = new Map([...s.value].map(([x, d]) => [p.participants[x - 1]!, d]));
          this.apply(r, { kind: 'dealt', digests, now: Date.now() });
          if (this.opts.testFaults?.afterDeal) {
            this.frozen = true; // from here on the node takes part in nothing: it has "died"
            await Promise.all(this.lastSend.values()); // shares and commitments are out
            this.opts.testFaults.afterDeal();
          }
          return;
        }
        const sends: Promise<void>[] = [];
        for (const [x, data] of s.value.shares) sends.push(this.send(p.participants[x - 1]!, { type: 'share', round: r.id, offset: s.value.offset, data }));
        await Promise.all(sends); // backpressure: one chunk in flight per link
        await yieldToIo();
      }
    } catch (e) {
      this.endRound(r, 'aborted', new ProtocolError('PROTOCOL_ABORTED', `dealing failed: ${(e as Error).message}`));
    } finally {
      it.return(new Map()); // an abandoned generator still wipes and frees its scratch chunks
    }
  }

  private async publish(r: Round, to: readonly string[], decision: PeerMessage): Promise<void> {
    for (const p of to) void this.send(p, decision);
    r.publishing = true;
    try {
      const it = r.vectors.aggChunks();
      for (;;) {
        // the vectors are wiped once the round is over: never stream from them after that
        if (!this.rounds.has(r.id) || r.state.phase !== 'combine') return;
        const s = it.next();
        if (s.done) {
          this.apply(r, { kind: 'published', digest: s.value, now: Date.now() });
          return;
        }
        await Promise.all(to.map((p) => this.send(p, { type: 'agg', round: r.id, offset: s.value.offset, data: s.value.data })));
        await yieldToIo();
      }
    } finally {
      r.publishing = false;
      const held = r.deferred;
      r.deferred = [];
      for (const d of held) this.apply(r, { kind: 'message', from: d.from, msg: d.msg, now: Date.now() });
    }
  }

  private finishRound(r: Round, res: RoundResult, contributors: readonly string[], holders: readonly string[]): void {
    // every answer reads the result from WASM memory in pieces (no model-sized JavaScript
    // array); the result vector outlives the round's other vectors until the last release
    for (const w of r.waiters) {
      const release = r.vectors.retainResult();
      const reduce = w.reduce;
      w.resolve({ params: res.params, totalWeight: res.totalWeight, contributors, holders, read: (o, out) => res.read(o, out, reduce), release });
    }
    r.waiters = [];
    this.counters.roundsDone++;
    this.metrics.roundEnded('done', (Date.now() - r.startedAt) / 1000);
    this.log({ event: 'round-done', round: r.id, contributors, holders, ms: Date.now() - r.startedAt });
    // the round stays open (phase done) until every holder's seal is in or the seal deadline
    this.wipe(r);
  }

  /** Stops the collection timer and wipes the round's share material (idempotent). */
  private wipe(r: Round): void {
    if (r.collectTimer) clearTimeout(r.collectTimer);
    r.vectors.zeroize();
    r.projSeed.fill(0);
  }

  private endRound(r: Round, outcome: 'aborted', err: MpcError): void {
    if (!this.rounds.has(r.id)) return;
    for (const w of r.waiters) w.reject(err);
    r.waiters = [];
    this.counters.roundsAborted++;
    this.metrics.roundEnded('aborted', (Date.now() - r.startedAt) / 1000);
    this.log({ event: 'round-aborted', round: r.id, code: err.code, reason: err.message });
    this.cleanup(r, outcome, err.message, err.code);
  }

  private cleanup(r: Round, outcome: 'done' | 'aborted', detail?: string, code?: ErrorCode): void {
    r.tx?.close();
    this.wipe(r); // share material is wiped when the round ends
    this.rounds.delete(r.id);
    this.finished.set(r.id, { outcome, at: Date.now(), ...(detail ? { detail } : {}), ...(code ? { code } : {}) });
    this.wakeSumWaiters(r); // waiting commits find the round ended
  }
}
