/**
 * Runs once before the browser tests: starts the app and the real Worker under `wrangler dev` on
 * a fresh local D1 (scripts/local-harness.mjs, shared with the benchmarks) resolving DNS through a
 * loopback DoH server, hands the base URL, token and DoH origin to the tests, and stops the server and removes its directory afterwards.
 */
import type { TestProject } from 'vitest/node';
import { startLocalServer } from '../../scripts/local-harness.mjs';
import { startDohServer } from '../worker/doh-server';

declare module 'vitest' {
	export interface ProvidedContext {
		e2eBaseUrl: string;
		e2eAdminToken: string;
		e2eDohOrigin: string;
	}
}

export default async function setup(project: TestProject) {
	// Inbound mail in the browser tests is authenticated against this DNS (tests/worker/doh-server.ts).
	const dns = await startDohServer();
	process.env.MAILGATE_DNS_RESOLVER_URL = `${dns.origin}/dns-query`;
	const server = await startLocalServer().catch(async (error: unknown) => {
		await dns.close();
		throw error;
	});
	project.provide('e2eBaseUrl', server.baseUrl);
	project.provide('e2eAdminToken', server.adminToken);
	project.provide('e2eDohOrigin', dns.origin);
	return async () => {
		await server.stop();
		await dns.close();
	};
}
