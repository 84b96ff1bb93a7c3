/**
 * mpc-node's library entry: the pieces a program embeds (a region node, the trainer client,
 * configuration). The command line is src/cli/mpc-node.ts.
 * @module
 */
export { RegionNode, type RegionNodeOptions, type SubmitRequest, type AggregateAnswer } from './node/region-node.js';
export { TrainerApi } from './node/trainer-api.js';
export { aggregate, aggregateDetailed, AggregateError, type AggregateOptions } from './client/index.js';
export { loadFederation } from './config/federation.js';
export { parseFederation, type Federation } from './federation/index.js';
export { generateIdentity, loadIdentity, saveIdentity, type Identity } from './transport/identity.js';
export { loadKernels } from './field/node.js';
export * from './errors.js';
