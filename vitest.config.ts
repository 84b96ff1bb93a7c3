import { defineConfig } from 'vitest/config';

// Tests assert behaviour, never speed (bench/ measures that): a test that does real work
// (WASM rounds, real processes, real Chromium) gets time enough on a shared, loaded 2-core
// machine. Multi-process tests set their own, longer limits.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
