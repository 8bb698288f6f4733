import { defineConfig } from 'vitest/config';

// One `npm test` runs every suite. Snapshots are never rewritten in CI (vitest refuses to write
// them when CI is set); update them on purpose with `npx vitest run -u`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // A real kube-apiserver + etcd, built from the Go module proxy on first use and cached.
    globalSetup: ['test/integration/global-setup.ts'],
  },
});
