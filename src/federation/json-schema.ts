/**
 * The JSON Schema of the federation file, generated from its zod schema (schema.ts) by
 * `npm run build:schema` into schema/federation.schema.json, which the package ships as
 * `mpc-node/federation.schema.json`. Not exported from the room's index, so the auditor page's
 * bundle does not carry the generator. The JSON Schema describes the file's shape; the rules
 * across fields (threshold vs. regions, unique keys, the overflow budget, grant signatures)
 * are parseFederation's alone.
 * @module
 */
import * as z from 'zod/mini';
import { COMMENT_KEY_PREFIX } from './model.js';
import { federationFileSchema } from './schema.js';

/** A JSON Schema node, as far as the generator's post-processing needs it. */
type Node = Record<string, unknown>;

/** The JSON Schema (draft 2020-12) of the federation file as it may be written (defaults optional). */
export function federationJsonSchema(): Node {
  const out = z.toJSONSchema(federationFileSchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: ({ jsonSchema }) => {
      // every object, record or not, also takes comment keys ("//...") of any value
      const node = jsonSchema as Node;
      if (node['type'] === 'object') node['patternProperties'] = { [`^${COMMENT_KEY_PREFIX}`]: {} };
    },
  }) as Node;
  return {
    $schema: out['$schema'],
    title: 'mpc-node federation file',
    description:
      'Who takes part in a federation (regions, endpoints, Ed25519 public keys), the Shamir threshold, the parameters of every round and the locality policy. ' +
      'Generated from src/federation/schema.ts; docs/configuration.md explains every field. Rules across fields (threshold vs. regions, unique ids/keys/endpoints, ' +
      "the fixed-point overflow budget, grant signatures) are checked by 'mpc-node config check'.",
    ...Object.fromEntries(Object.entries(out).filter(([k]) => k !== '$schema')),
  };
}

/** The file's text: 2-space JSON and a final newline. */
export function federationJsonSchemaText(): string {
  return `${JSON.stringify(federationJsonSchema(), null, 2)}\n`;
}
