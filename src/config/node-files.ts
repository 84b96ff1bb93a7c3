/**
 * Where a region node keeps its files. One data directory per node:
 *
 * ```
 * <dataDir>/                 mode 0700
 *   identity.json            Ed25519 identity (src/transport/identity.ts format), mode 0600
 *   api-token                bearer token of the local trainer API: 64 hex chars + "\n", mode 0600
 *   credentials.json         named trainer/operator/auditor credentials, hashed (src/node/credentials.ts), mode 0600
 *   trainer-id-key           the key of the trainers' pseudonymous ids in transcripts: 64 hex chars + "\n", mode 0600
 *   transcripts/             sealed round transcripts, mode 0700
 * ```
 *
 * The default data directory is `./mpc-data/<region>` (relative to the working directory), so
 * several nodes of a local demo can share one checkout.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { HEX32_RE } from '../core/hex.js';

/** Absolute paths of everything a node keeps in its data directory. */
export interface NodePaths {
  readonly dataDir: string;
  readonly identity: string;
  readonly apiToken: string;
  readonly credentials: string;
  readonly trainerIdKey: string;
  readonly transcripts: string;
}

/** Bytes of randomness in an API token (hex-encoded: 64 characters). */
export const API_TOKEN_BYTES = 32;

/**
 * The default data directory of a region's node: `./mpc-data/<region>`.
 * @example
 * defaultDataDir('eu'); // '/current/dir/mpc-data/eu'
 */
export function defaultDataDir(region: string): string {
  return resolve('mpc-data', region);
}

/**
 * Paths of a node's files (no disk access).
 * @param dataDir - The node's data directory (relative paths resolve against the cwd).
 * @example
 * resolveNodePaths('mpc-data/eu').identity; // '/…/mpc-data/eu/identity.json'
 */
export function resolveNodePaths(dataDir: string): NodePaths {
  const dir = resolve(dataDir);
  return Object.freeze({
    dataDir: dir,
    identity: join(dir, 'identity.json'),
    apiToken: join(dir, 'api-token'),
    credentials: join(dir, 'credentials.json'),
    trainerIdKey: join(dir, 'trainer-id-key'),
    transcripts: join(dir, 'transcripts'),
  });
}

/**
 * Creates the data directory and `transcripts/` (mode 0700) if missing.
 * @returns the node's paths.
 * @throws {ConfigError} CONFIG_INVALID if a path exists but is not a directory or cannot be created.
 */
export async function ensureNodeDirs(dataDir: string): Promise<NodePaths> {
  const paths = resolveNodePaths(dataDir);
  for (const dir of [paths.dataDir, paths.transcripts]) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError('CONFIG_INVALID', `cannot create directory ${dir}: ${code ?? String(err)}${code === 'EEXIST' || code === 'ENOTDIR' ? ' (a file is in the way)' : ''}`, { cause: err });
    }
  }
  return paths;
}

/**
 * Returns the node's API bearer token, creating `<dataDir>/api-token` (32 random bytes as hex,
 * mode 0600) if it does not exist. Trainers on this machine read the same file.
 * Secret: the token is returned, never logged by this module or put in error messages.
 * @throws {ConfigError} CONFIG_INVALID if the file is malformed or readable by group/other.
 * @example
 * const token = await ensureApiToken('mpc-data/eu');
 */
export async function ensureApiToken(dataDir: string): Promise<string> {
  const { apiToken } = await ensureNodeDirs(dataDir);
  return ensureHexSecret(apiToken, API_TOKEN);
}

/**
 * Reads an existing API token file, checking its format and permissions (like ssh does).
 * @throws {ConfigError} CONFIG_INVALID if missing, malformed or readable by group/other.
 */
export async function readApiToken(dataDir: string): Promise<string> {
  return readHexSecret(resolveNodePaths(dataDir).apiToken, API_TOKEN);
}

/**
 * Returns the key of the trainers' pseudonymous ids (src/node/credentials.ts `trainerPseudonym`),
 * creating `<dataDir>/trainer-id-key` (32 random bytes as hex, mode 0600) if it does not exist.
 * Secret: whoever holds it can tell which credential name a transcript's trainer id stands for.
 * @throws {ConfigError} CONFIG_INVALID if the file is malformed or readable by group/other.
 */
export async function ensureTrainerIdKey(dataDir: string): Promise<string> {
  const { trainerIdKey } = await ensureNodeDirs(dataDir);
  return ensureHexSecret(trainerIdKey, TRAINER_ID_KEY);
}

/** A 32-byte hex secret file of the data directory: what it is called, and what to do when it is malformed. */
interface SecretFile {
  readonly label: string;
  readonly malformed: string;
}
const API_TOKEN: SecretFile = { label: 'API token', malformed: 'delete it and a new token is created at the next start' };
const TRAINER_ID_KEY: SecretFile = {
  label: 'trainer id key',
  malformed: 'restore it from a backup, or delete it and a new key is created at the next start (later transcripts then name the same trainers by other ids)',
};

/** Reads the secret file at `path`, creating it (32 random bytes as hex, mode 0600, O_EXCL) if it does not exist. */
async function ensureHexSecret(path: string, what: SecretFile): Promise<string> {
  const secret = randomBytes(API_TOKEN_BYTES).toString('hex');
  try {
    // O_EXCL: two processes starting at once cannot both write a secret; the loser reads it.
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(`${secret}\n`, 'utf8');
      await fh.chmod(0o600);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError('CONFIG_INVALID', `cannot create ${what.label} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  return readHexSecret(path, what);
}

/** Reads a secret file, checking its format and permissions (like ssh does); never echoes its contents. */
async function readHexSecret(path: string, what: SecretFile): Promise<string> {
  let text: string;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ConfigError('CONFIG_INVALID', `${what.label} file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ConfigError(
        'CONFIG_INVALID',
        `${what.label} file ${path} has permissions ${(st.mode & 0o777).toString(8)}, readable by other users; run: chmod 600 ${path}`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('CONFIG_INVALID', `cannot read ${what.label} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const secret = text.trim();
  if (!HEX32_RE.test(secret)) {
    // Never echo the contents: it is (meant to be) a secret.
    throw new ConfigError('CONFIG_INVALID', `${what.label} file ${path} is malformed (expected 64 lower-case hex characters); ${what.malformed}`);
  }
  return secret;
}
