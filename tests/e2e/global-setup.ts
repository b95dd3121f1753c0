/**
 * Runs once before the browser tests: starts the app and the real Worker under `wrangler dev` on
 * a fresh local D1 (scripts/local-harness.mjs, shared with the benchmarks), hands the base URL
 * and token to the tests, and stops the server and removes its directory afterwards.
 */
import type { TestProject } from 'vitest/node';
import { startLocalServer } from '../../scripts/local-harness.mjs';

declare module 'vitest' {
	export interface ProvidedContext {
		e2eBaseUrl: string;
		e2eAdminToken: string;
	}
}

export default async function setup(project: TestProject) {
	const server = await startLocalServer();
	project.provide('e2eBaseUrl', server.baseUrl);
	project.provide('e2eAdminToken', server.adminToken);
	return server.stop;
}
