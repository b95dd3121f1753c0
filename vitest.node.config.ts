import { defineConfig } from 'vitest/config';

/**
 * Tests in plain Node, no Worker, no browser: the Node-side tooling (scripts/, bench helpers) and
 * the app's pure and storage-injected parts (tests/src/, e.g. the sync engine over an in-memory IndexedDB).
 */
export default defineConfig({
	test: { include: ['tests/scripts/**/*.test.ts', 'tests/src/**/*.test.ts'], environment: 'node' }
});
