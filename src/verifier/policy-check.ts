/**
 * The `policy` check of a round: every recorded policy decision re-evaluated against the
 * federation's locality policy (policy/ `allowedHolders`, the rule the nodes apply), and every
 * share flow the transcripts show (commitments, decided dealer -> holder pairs) allowed by it.
 * @module
 */
import { REGION_ID_RE } from '../core/ids.js';
import type { Federation } from '../federation/index.js';
import { allowedHolders, type PolicyDecision } from '../policy/index.js';
import { FLOW_RULES } from './decode.js';
import type { FailAt } from './report.js';
import type { View } from './view.js';

/** A flow decision's subject, `"<dealer>-><holder>"`, with the two region ids captured. */
const REGION_ID = REGION_ID_RE.source.slice(1, -1);
const FLOW_SUBJECT_RE = new RegExp(`^(${REGION_ID})->(${REGION_ID})$`);

/**
 * The `policy` check: each recorded flow decision re-evaluates to the same outcome at its time,
 * and every share flow a dealer committed to (and every decided dealer -> holder pair) was
 * allowed: at the time of a recorded `allowed` decision for that flow (grants valid then), or
 * else by the file's static rules (no grant, since no time is recorded for it).
 * @returns the detail line when it passes.
 */
export function policyCheck(views: readonly View[], fed: Federation, fail: FailAt): string {
  const flowAt = (d: string, h: string, ms: number, grants = fed.policy.grants): PolicyDecision => {
    try {
      return allowedHolders(fed, d, [h], ms, grants).decisions[0]!;
    } catch (e) {
      return { rule: 'unknown-region', subject: `${d}->${h}`, outcome: 'refused', reason: (e as Error).message, grant: null };
    }
  };
  // flows a recorded `allowed` decision showed allowed at its time (re-evaluated just below)
  const allowedAtRecord = new Set<string>();
  let recorded = 0;
  let refused = 0;
  for (const v of views) {
    for (const e of v.policies) {
      recorded++;
      const b = e.body;
      const where = `${v.file.name} seq ${e.seq}`;
      if (b.outcome === 'refused') refused++;
      if (!FLOW_RULES.includes(b.rule)) {
        if (b.subject !== v.round) fail(where, `policy decision ${b.rule} about ${b.subject.slice(0, 40)}, expected the round ${v.round}`);
        continue;
      }
      const m = FLOW_SUBJECT_RE.exec(b.subject);
      if (!m) {
        fail(where, `flow decision ${b.rule} with subject ${b.subject.slice(0, 40)}, expected dealer->holder`);
        continue;
      }
      const at = Date.parse(b.at);
      const want = flowAt(m[1]!, m[2]!, at);
      if (want.outcome !== b.outcome || want.rule !== b.rule || want.grant !== b.grant) {
        fail(where, `recorded ${b.subject} ${b.outcome} (${b.rule}${b.grant ? `, grant ${b.grant}` : ''}) at ${b.at}; the policy in force then gives ${want.outcome} (${want.rule}): ${want.reason}`);
      }
      if (b.outcome === 'allowed' && want.outcome === 'allowed') allowedAtRecord.add(b.subject);
    }
  }
  const checked = new Set<string>();
  let flows = 0;
  const flow = (d: string, h: string, where: string, what: string): void => {
    if (d === h || checked.has(`${what}|${d}->${h}`)) return;
    checked.add(`${what}|${d}->${h}`);
    flows++;
    if (allowedAtRecord.has(`${d}->${h}`)) return;
    const st = flowAt(d, h, 0, []);
    if (st.outcome === 'allowed') return;
    fail(where, `${what} ${d} -> ${h} is not allowed by the policy in force: ${st.reason} (no policy entry records an allowed decision for this flow)`);
  };
  for (const v of views) {
    for (const [, c] of v.commits) {
      if (!c.body.contributes) continue;
      for (const h of Object.keys(c.body.digests)) flow(c.body.dealer, h, `${v.file.name} seq ${c.seq}`, 'share flow');
    }
    const d = v.decision;
    if (d) for (const dl of d.body.dealers) for (const h of d.body.holders) flow(dl, h, `${v.file.name} seq ${d.seq}`, 'decided flow');
  }
  return `${flows} share flow(s) allowed by the policy in force; ${recorded} recorded decision(s) re-evaluated` + (refused ? `, ${refused} refusal(s)` : '');
}
