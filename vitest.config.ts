import { defineConfig } from 'vitest/config';

// Every test file runs once per backend: wasm (the default) and cpu (the reference).
// `BRAINSTATE_PLATFORM` is read by src/backend on import.
const platforms = (process.env.BRAINSTATE_TEST_PLATFORMS ?? 'wasm,cpu').split(',');

export default defineConfig({
  test: {
    projects: platforms.map((platform) => ({
      extends: true,
      test: {
        name: platform,
        include: ['test/**/*.test.ts'],
        env: { BRAINSTATE_PLATFORM: platform },
        testTimeout: 60_000,
        hookTimeout: 60_000,
      },
    })),
    pool: 'forks',
  },
});
