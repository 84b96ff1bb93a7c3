/**
 * Reads a federation file from disk. Parsing, the digest and the warnings are the pure, browser-safe
 * src/federation/ room; this is the one part that touches the file system.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { parseFederation, type Federation } from '../federation/index.js';

/**
 * Reads and parses a federation file.
 * @throws {ConfigError} CONFIG_INVALID if the file is missing, not JSON, or invalid.
 * @example
 * const fed = await loadFederation('federation.json');
 */
export async function loadFederation(path: string): Promise<Federation> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? "no such file (create one with 'mpc-node init', or pass --config PATH)" : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError('CONFIG_INVALID', `${path}: cannot read federation file: ${why}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // SyntaxError messages name the position, and the file holds public data only.
    throw new ConfigError('CONFIG_INVALID', `${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseFederation(json, path);
}
