/**
 * GC pacing (src/node/gc-pacer.ts): once enabled, a minor collection runs for every
 * `everyBytes` of I/O noted, and none before.
 */
import { describe, expect, it } from 'vitest';
import { enableGcPacing, noteMoved, pacedCollections } from '../src/node/gc-pacer.js';

describe('gc pacer', () => {
  it('collects once per everyBytes moved once enabled', () => {
    const before = pacedCollections();
    noteMoved(10 * 1024 * 1024); // not enabled yet in this worker: only counted
    expect(pacedCollections()).toBe(before);
    expect(enableGcPacing(1000)).toBe(true);
    noteMoved(999);
    expect(pacedCollections()).toBe(before);
    noteMoved(1);
    expect(pacedCollections()).toBe(before + 1);
    for (let i = 0; i < 5; i++) noteMoved(1000);
    expect(pacedCollections()).toBe(before + 6);
  });
});
