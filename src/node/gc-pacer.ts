/**
 * Paces garbage collection by bytes moved, so that short-lived I/O buffers do not pile up.
 *
 * A node moves its model through many short-lived buffers: every 64 KiB socket read, ws's
 * reassembled frame, AES-GCM output, every piece of a trainer's HTTP body. V8 frees them only
 * when it collects, and it decides when by the JavaScript heap (~10 MB here) plus a loose
 * external-memory trigger. Measured at 1e7 parameters (3 nodes, bench/RESULTS.md "Round"):
 * 17 MB of dead ArrayBuffers on average and up to 49 MB at once, peak RSS 289-299 MiB per
 * node; with a minor GC (scavenge, ~0.1-0.3 ms with this small heap) every 2 MiB moved: 4 MB
 * on average, 13 MB at most, peak RSS 256-263 MiB (before the other memory work of the same
 * change set). It saves CPU as well: far fewer mark-compacts. CPU per node per 1e6-parameter
 * round of 3 regions (2 runs of 7 rounds each): 358-375 ms without pacing, 338-339 ms every
 * 4 MiB, 309-319 every 3 MiB, 264-279 every 2 MiB, 266-274 every 1.5 MiB, 269-276 every
 * 1 MiB. 1.5 MiB keeps clear of the cliff between 2 and 3 MiB.
 *
 * The GC function needs V8's --expose-gc. `enableGcPacing()` sets it at run time (`mpc-node
 * start` calls it before the node starts); until then `noteMoved` does nothing. Library users
 * who embed RegionNode keep their own GC policy unless they call it.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' }) => void;

let gcFn: GcFn | null = null;
let moved = 0;
let every = 1.5 * 1024 * 1024;
let collections = 0;

/**
 * Turns pacing on: exposes V8's gc function to this module (a fresh context's `gc` global).
 * @param everyBytes - bytes moved between two minor collections (default 1.5 MiB).
 * @returns false when the runtime refused (pacing stays off).
 */
export function enableGcPacing(everyBytes = 1.5 * 1024 * 1024): boolean {
  every = everyBytes;
  moved = 0;
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    gcFn = typeof f === 'function' ? (f as GcFn) : null;
  } catch {
    gcFn = null;
  }
  return gcFn !== null;
}

/** Counts `bytes` of short-lived buffers; collects the young generation every `everyBytes` (once enabled). */
export function noteMoved(bytes: number): void {
  if (!gcFn) return;
  moved += bytes;
  if (moved < every) return;
  moved = 0;
  collections++;
  gcFn({ type: 'minor' });
}

/** Minor collections run by the pacer so far (for tests and metrics). */
export function pacedCollections(): number {
  return collections;
}
