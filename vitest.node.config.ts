import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Tests in plain Node, no Worker, no browser: the Node-side tooling (scripts/, bench helpers) and
 * the app's pure and storage-injected parts (tests/src/, e.g. the sync engine over an in-memory IndexedDB).
 */
export default defineConfig({
	// The app's modules import each other as SvelteKit names them.
	resolve: { alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) } },
	test: { include: ['tests/scripts/**/*.test.ts', 'tests/src/**/*.test.ts'], environment: 'node' }
});
