/**
 * The locality policy as the round applies it: the decision for one share flow at an event's
 * time, and how a decision leaves the step (a `policy` transcript record; a refusal is also a
 * `violation` effect). The rules themselves are src/policy/; this file only adapts them.
 * @module
 */
import { allowedHolders, type PolicyDecision, type PolicySubject } from '../policy/index.js';
import type { Effect } from './state.js';

/** The policy decision for the flow dealer -> holder at `now` (allowed when there is no policy). */
export function flowDecision(policy: PolicySubject | undefined, dealer: string, holder: string, now: number): PolicyDecision {
  if (!policy) return { rule: 'open', subject: `${dealer}->${holder}`, outcome: 'allowed', reason: 'no policy given', grant: null };
  try {
    return allowedHolders(policy, dealer, [holder], now, policy.policy.grants).decisions[0]!;
  } catch (e) {
    return { rule: 'unknown-region', subject: `${dealer}->${holder}`, outcome: 'refused', reason: (e as Error).message, grant: null };
  }
}

/** Records a policy decision (with the event time); a refused one is also a violation. */
export function decided(fx: Effect[], d: PolicyDecision, now: number): void {
  fx.push({ kind: 'record', record: { kind: 'policy', body: { rule: d.rule, subject: d.subject, outcome: d.outcome, reason: d.reason, grant: d.grant, at: new Date(now).toISOString() } } });
  if (d.outcome === 'refused') fx.push({ kind: 'violation', decision: d });
}
