import { defineConfig } from 'vitest/config';

/**
 * Browser tests: the built app and the real Worker under `wrangler dev` (started once by the
 * global setup, against a fresh local D1), driven by Debian's Chromium through playwright-core.
 */
export default defineConfig({
	test: {
		include: ['tests/e2e/**/*.test.ts'],
		environment: 'node',
		globalSetup: ['tests/e2e/global-setup.ts'],
		// One wrangler dev and one browser at a time; test files share the server.
		fileParallelism: false,
		// The files run one after another in one Node process, which loads playwright-core and the
		// helpers once instead of a fresh process per file (about 1.5 s of CPU a file). Each file still
		// launches its own Chromium and signs in on fresh browser contexts.
		isolate: false,
		testTimeout: 60_000,
		// The global setup may build the app and start wrangler dev.
		hookTimeout: 180_000,
		teardownTimeout: 30_000
	}
});
