/**
 * Prometheus metrics of one region node (prom-client), served as text by `GET /metrics`.
 *
 * Wired into the node: `RegionNode` (src/node/region-node.ts) creates one
 * {@link NodeMetrics} with {@link createNodeMetrics}, passing a `snapshot` that reads its live
 * state at scrape time, and calls the event methods where the events happen; docs/api.md
 * "GET /metrics" lists when each series changes.
 *
 * Each node gets its own `Registry` (never prom-client's global one), so several nodes in one
 * process (tests, the demo) do not collide and a test can read exactly one node's series.
 * Label values are bounded: outcomes and violation kinds are closed unions, peers are the
 * federation's region ids (anything else is counted as `other`), so a peer cannot blow up the
 * series count. No label or value carries secret data.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GrantRefusal, PolicyRule } from '../policy/index.js';

/** Prefix of every series name. */
export const METRIC_PREFIX = 'mpc_node_';

/** How a round ended at this node. `refused`: never opened (policy.maxRoundsInFlight, bad params). */
export type RoundOutcome = 'done' | 'aborted' | 'refused';

/** The `kind` label of the policy violation counter: the refusing rule, or why a grant was refused. */
export type ViolationKind = PolicyRule | `grant-${GrantRefusal}`;

/** Round durations in seconds: from the trainer-facing collect window to multi-minute rounds. */
export const ROUND_DURATION_BUCKETS_S: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Live state read at scrape time (all optional; a missing one leaves its series as last set). */
export interface NodeSnapshot {
  readonly peersConnected?: number;
  readonly roundsInFlight?: number;
  readonly activeTrainers?: number;
  /** The memory budget, the bytes rounds reserve of it, and the WASM linear memory (bytes). */
  readonly memoryBudgetBytes?: number;
  readonly memoryReservedBytes?: number;
  readonly wasmMemoryBytes?: number;
  /** Cumulative bytes sent to each peer since start (PeerNetwork.stats().bytesSent). */
  readonly bytesSent?: Readonly<Record<string, number>>;
  /** Cumulative bytes received from each peer since start (PeerNetwork.stats().bytesReceived). */
  readonly bytesReceived?: Readonly<Record<string, number>>;
  /** Cumulative links cut by the drain timeout, by peer (PeerNetwork.stats().drainTimeouts). */
  readonly drainTimeouts?: Readonly<Record<string, number>>;
}

export interface NodeMetricsOptions {
  /** This node's region id: a constant `region` label on every series. */
  readonly region: string;
  /** The other regions' ids: the only accepted `peer` label values. */
  readonly peers: readonly string[];
  /** Called on every scrape to refresh gauges and the per-peer byte counters. */
  readonly snapshot?: () => NodeSnapshot;
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** `Content-Type` of {@link metricsText} (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /**
   * A round ended (or was refused before opening) after `seconds`; an aborted one is also counted
   * by `code`, its cause's code (the same in every region: docs/protocol.md).
   */
  roundEnded(outcome: RoundOutcome, seconds: number, code?: string): void;
  /** A refused policy decision (log it too: see logger.violation). */
  policyViolation(kind: ViolationKind): void;
  /** A trainer's update is in the regional sum (`clipped`: scaled down to round.clipL2). */
  updateAccepted(clipped: boolean): void;
  /** The peer network refused a connection; `code` is RefusedInfo.code, e.g. TRANSPORT_UNKNOWN_PEER. */
  refusedConnection(code: string): void;
  /** A round (or one more staged update) refused because its memory does not fit the budget, by who asked for it. */
  memoryRefused(source: 'trainer' | 'peer'): void;
  /** A peer's params for a new round refused by the rate bound on rounds peers open (peer-round-gate.ts). */
  peerRoundThrottled(peer: string): void;
  /** Adds bytes sent to `peer` (use this or `snapshot().bytesSent`, not both). */
  addBytesSent(peer: string, bytes: number): void;
  setActiveTrainers(n: number): void;
  setRoundsInFlight(n: number): void;
  setPeersConnected(n: number): void;
  /** The exposition text for `GET /metrics`. */
  metricsText(): Promise<string>;
}

/**
 * Creates the metrics of one node in a fresh registry.
 * @example
 * const m = createNodeMetrics({ region: 'eu', peers: ['us', 'apac'], snapshot: () => ({ peersConnected: net.connectedPeers().length }) });
 * m.roundEnded('done', 1.2);
 * res.setHeader('content-type', m.contentType); res.end(await m.metricsText());
 */
/** Codes are the closed ErrorCode set; anything else is clamped so a label cannot grow unbounded. */
const codeLabel = (code: string): string => (/^[A-Z][A-Z0-9_]{0,47}$/.test(code) ? code : 'OTHER');

export function createNodeMetrics(opts: NodeMetricsOptions): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ region: opts.region });
  const peers = new Set(opts.peers);
  const peerLabel = (p: string): string => (peers.has(p) ? p : 'other');
  const registers = [registry];

  const rounds = new Counter({ name: `${METRIC_PREFIX}rounds_total`, help: 'Rounds ended at this node, by outcome (done, aborted, refused).', labelNames: ['outcome'], registers });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}round_duration_seconds`,
    help: 'Wall time of a round at this node, from opening to its end, by outcome.',
    labelNames: ['outcome'],
    buckets: [...ROUND_DURATION_BUCKETS_S],
    registers,
  });
  const violations = new Counter({ name: `${METRIC_PREFIX}policy_violations_total`, help: 'Refused policy decisions, by rule or grant refusal reason.', labelNames: ['kind'], registers });
  const aborts = new Counter({ name: `${METRIC_PREFIX}round_aborts_total`, help: "Rounds aborted at this node, by the cause's error code.", labelNames: ['code'], registers });
  const refused = new Counter({ name: `${METRIC_PREFIX}refused_connections_total`, help: 'Peer connections refused by the transport, by error code.', labelNames: ['code'], registers });
  const sent = new Counter({ name: `${METRIC_PREFIX}peer_bytes_sent_total`, help: 'Bytes sent to each peer (encrypted frames).', labelNames: ['peer'], registers });
  const received = new Counter({ name: `${METRIC_PREFIX}peer_bytes_received_total`, help: 'Bytes received from each peer (encrypted frames).', labelNames: ['peer'], registers });
  const drained = new Counter({ name: `${METRIC_PREFIX}peer_drain_timeouts_total`, help: 'Links to each peer cut because the peer took no bytes for the drain timeout (hung peer).', labelNames: ['peer'], registers });
  const trainers = new Gauge({ name: `${METRIC_PREFIX}active_trainers`, help: 'Trainer submissions in rounds that are still collecting or running.', registers });
  const inFlight = new Gauge({ name: `${METRIC_PREFIX}rounds_in_flight`, help: 'Rounds currently open at this node.', registers });
  const updates = new Counter({ name: `${METRIC_PREFIX}updates_accepted_total`, help: 'Trainer updates added to a regional sum.', registers });
  const clipped = new Counter({ name: `${METRIC_PREFIX}updates_clipped_total`, help: 'Accepted trainer updates whose L2 norm was above round.clipL2 and that were scaled down to it.', registers });
  const connected = new Gauge({ name: `${METRIC_PREFIX}peers_connected`, help: 'Peers with an authenticated link.', registers });
  const memRefused = new Counter({ name: `${METRIC_PREFIX}memory_budget_refusals_total`, help: 'Rounds or staged updates refused because their memory does not fit the budget, by source (trainer, peer).', labelNames: ['source'], registers });
  const throttled = new Counter({ name: `${METRIC_PREFIX}peer_rounds_throttled_total`, help: 'Peer params for new rounds refused by the per-peer rate bound.', labelNames: ['peer'], registers });
  const budget = new Gauge({ name: `${METRIC_PREFIX}memory_budget_bytes`, help: 'The memory budget of this node\'s rounds (bytes).', registers });
  const reserved = new Gauge({ name: `${METRIC_PREFIX}memory_reserved_bytes`, help: 'Bytes of the memory budget reserved by open and pending rounds.', registers });
  const wasm = new Gauge({ name: `${METRIC_PREFIX}wasm_memory_bytes`, help: 'WASM linear memory of this node (bytes; it never shrinks).', registers });
  // Series exist (at 0) before the first event, so dashboards and alerts see them at once.
  for (const o of ['done', 'aborted', 'refused'] as const) rounds.inc({ outcome: o }, 0);
  for (const s of ['trainer', 'peer'] as const) memRefused.inc({ source: s }, 0);
  updates.inc(0);
  clipped.inc(0);
  for (const p of peers) {
    throttled.inc({ peer: p }, 0);
    sent.inc({ peer: p }, 0);
    received.inc({ peer: p }, 0);
    drained.inc({ peer: p }, 0);
  }

  const setCumulative = (c: Counter<'peer'>, totals: Readonly<Record<string, number>>): void => {
    // The network keeps cumulative totals; mirror them (a counter never goes down, and the
    // totals only grow while the process lives, which is the counter's lifetime too).
    const byLabel = new Map<string, number>();
    for (const [p, v] of Object.entries(totals)) if (Number.isFinite(v) && v >= 0) byLabel.set(peerLabel(p), (byLabel.get(peerLabel(p)) ?? 0) + v);
    c.reset();
    for (const p of peers) c.inc({ peer: p }, byLabel.get(p) ?? 0);
    if (byLabel.has('other')) c.inc({ peer: 'other' }, byLabel.get('other')!);
  };
  const refresh = (): void => {
    const s = opts.snapshot?.();
    if (s === undefined) return;
    if (s.peersConnected !== undefined) connected.set(s.peersConnected);
    if (s.roundsInFlight !== undefined) inFlight.set(s.roundsInFlight);
    if (s.activeTrainers !== undefined) trainers.set(s.activeTrainers);
    if (s.memoryBudgetBytes !== undefined) budget.set(s.memoryBudgetBytes);
    if (s.memoryReservedBytes !== undefined) reserved.set(s.memoryReservedBytes);
    if (s.wasmMemoryBytes !== undefined) wasm.set(s.wasmMemoryBytes);
    if (s.bytesSent !== undefined) setCumulative(sent, s.bytesSent);
    if (s.bytesReceived !== undefined) setCumulative(received, s.bytesReceived);
    if (s.drainTimeouts !== undefined) setCumulative(drained, s.drainTimeouts);
  };

  return {
    registry,
    contentType: registry.contentType,
    roundEnded(outcome, seconds, code) {
      rounds.inc({ outcome });
      if (outcome === 'aborted' && code !== undefined) aborts.inc({ code: codeLabel(code) });
      if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ outcome }, seconds);
    },
    updateAccepted(wasClipped) {
      updates.inc();
      if (wasClipped) clipped.inc();
    },
    policyViolation(kind) {
      violations.inc({ kind });
    },
    refusedConnection(code) {
      refused.inc({ code: codeLabel(code) });
    },
    memoryRefused(source) {
      memRefused.inc({ source });
    },
    peerRoundThrottled(peer) {
      throttled.inc({ peer: peerLabel(peer) });
    },
    addBytesSent(peer, bytes) {
      if (Number.isFinite(bytes) && bytes > 0) sent.inc({ peer: peerLabel(peer) }, bytes);
    },
    setActiveTrainers: (n) => trainers.set(n),
    setRoundsInFlight: (n) => inFlight.set(n),
    setPeersConnected: (n) => connected.set(n),
    async metricsText() {
      refresh();
      return registry.metrics();
    },
  };
}
