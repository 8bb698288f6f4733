import { defineConfig } from 'vitest/config';

// One `npm test` runs every suite. Snapshots are never rewritten in CI (vitest refuses to write
// them when CI is set); update them on purpose with `npx vitest run -u`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
  },
});
