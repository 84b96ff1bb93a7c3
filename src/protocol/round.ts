/**
 * The round protocol at one region node, as a state machine: `step(state, event, ctx)` returns
 * the next state and the effects to carry out (send, deal, publish, result, abort). It opens no
 * socket, reads no clock (time comes in every event) and draws randomness only through `ctx`.
 * The round's secret memory is `ctx.memory` (RoundMemory), which the state machine drives through
 * the narrow `StepMemory` interface and never copies; the node streams from it for `deal`/`publish`. Spec and rationale: docs/protocol.md.
 *
 * Phases (closed set):
 *   collect -> deal -> decide -> combine -> done
 *   any phase -> aborted
 *
 * This file is the entry; the machine is one file per part: `state.ts` (types, initial state),
 * `step.ts` (the transition function and deadlines), `receive.ts` (peer messages), `deal.ts`,
 * `decide.ts`, `finish.ts` (result and seals), `locality.ts` (policy decisions), `step-common.ts`.
 * @module
 */
export { ACCEPTS, initialState, roundTiming, type StepMemory, type Effect, type Phase, type RoundEvent, type RoundState, type RoundTiming, type StepContext } from './state.js';
export { step } from './step.js';
