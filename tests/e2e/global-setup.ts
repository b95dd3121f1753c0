/**
 * Runs once before the browser tests: starts the app and the real Worker under `wrangler dev` on
 * a fresh local D1 (scripts/local-harness.mjs, shared with the benchmarks) resolving DNS through a
 * loopback DoH server, and the SMTP server replies are sent to (smtp-peer.ts); hands the base URL,
 * token, DoH origin and SMTP port and control address to the tests, and stops them all and
 * removes the server's directory afterwards.
 */
import type { TestProject } from 'vitest/node';
import { startLocalServer } from '../../scripts/local-harness.mjs';
import { startDohServer } from '../worker/doh-server';
import { startSmtpPeer } from './smtp-peer';

declare module 'vitest' {
	export interface ProvidedContext {
		e2eBaseUrl: string;
		e2eAdminToken: string;
		e2eDohOrigin: string;
		/** The SMTP server on 127.0.0.1 that mailboxes in the tests send replies through. */
		e2eSmtpPort: number;
		/** Its HTTP endpoint listing what it received (`GET /received`). */
		e2eSmtpControl: string;
	}
}

export default async function setup(project: TestProject) {
	// Inbound mail in the browser tests is authenticated against this DNS (tests/worker/doh-server.ts).
	const dns = await startDohServer();
	process.env.MAILGATE_DNS_RESOLVER_URL = `${dns.origin}/dns-query`;
	const smtp = await startSmtpPeer();
	const server = await startLocalServer().catch(async (error: unknown) => {
		await dns.close();
		await smtp.close();
		throw error;
	});
	project.provide('e2eBaseUrl', server.baseUrl);
	project.provide('e2eAdminToken', server.adminToken);
	project.provide('e2eDohOrigin', dns.origin);
	project.provide('e2eSmtpPort', smtp.port);
	project.provide('e2eSmtpControl', smtp.control);
	return async () => {
		await server.stop();
		await dns.close();
		await smtp.close();
	};
}
