/**
 * One live node per data directory: `<dataDir>/node.lock` holds the pid of the node that owns
 * the directory (its identity, token and transcripts). A second node started on the same
 * directory is refused, instead of taking over the first one's peer links back and forth. A lock
 * left by a process that no longer exists (kill -9, a crash) is taken over.
 * @module
 */
import { hostname } from 'node:os';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** The lock file's name inside the data directory. */
export const LOCK_FILE = 'node.lock';

interface LockRecord {
  pid: number;
  host: string;
  startedAt: string;
}

/** True if a process with this pid exists on this machine (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path, 'utf8')) as Partial<LockRecord>;
    return Number.isSafeInteger(r.pid) && typeof r.host === 'string' ? (r as LockRecord) : undefined;
  } catch {
    return undefined; // missing, or cut short by a crash while it was written: stale
  }
}

/**
 * Takes the data directory's lock for this process.
 * @returns a function that releases it (idempotent; also safe to skip on exit: a lock of a dead pid is stale).
 * @throws {ConfigError} CONFIG_DATA_DIR_IN_USE when a live process on this machine holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE);
  const me: LockRecord = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const f = await open(path, 'wx', 0o600);
      try {
        await f.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await f.close();
      }
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new ConfigError('CONFIG_INVALID', `cannot create ${path}: ${code ?? (e as Error).message}`, { cause: e });
      const held = await readLock(path);
      if (held && held.pid !== process.pid && (held.host !== me.host || alive(held.pid))) {
        throw new ConfigError(
          'CONFIG_DATA_DIR_IN_USE',
          `data directory ${dataDir} is in use by another node (pid ${held.pid} on ${held.host}, since ${held.startedAt}): stop it first, or give this node its own --data-dir (if that process is gone, remove ${path})`,
        );
      }
      if (attempt > 0) throw new ConfigError('CONFIG_DATA_DIR_IN_USE', `data directory ${dataDir}: another node is taking ${path} at the same time`);
      await unlink(path).catch(() => {}); // stale: its process is gone
    }
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const held = await readLock(path);
    if (held?.pid === process.pid) await unlink(path).catch(() => {});
  };
}
