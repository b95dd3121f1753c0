import { defineConfig } from 'vitest/config';

/** Tests of the Node-side tooling (scripts/, bench helpers): plain Node, no Worker, no browser. */
export default defineConfig({
	test: { include: ['tests/scripts/**/*.test.ts'], environment: 'node' }
});
