/**
 * Runs once before the browser tests: starts the app and the real Worker under `wrangler dev` on
 * a fresh local D1 (scripts/local-harness.mjs, shared with the benchmarks) resolving DNS through a
 * loopback DoH server, the SMTP server replies are sent to (smtp-peer.ts) and the OAuth provider
 * stand-in the Worker signs in with (scripts/local-oauth.mjs); hands the base URL, token, DoH
 * origin, SMTP port and control addresses to the tests, and stops them all and removes the
 * server's directory afterwards.
 */
import type { TestProject } from 'vitest/node';
import { startLocalServer } from '../../scripts/local-harness.mjs';
import { startLocalOAuth } from '../../scripts/local-oauth.mjs';
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
		/** The OAuth provider stand-in's control endpoint (SPEC §12; scripts/local-oauth.mjs). */
		e2eOAuthControl: string;
	}
}

export default async function setup(project: TestProject) {
	// Inbound mail in the browser tests is authenticated against this DNS (tests/worker/doh-server.ts).
	const dns = await startDohServer();
	process.env.MAILGATE_DNS_RESOLVER_URL = `${dns.origin}/dns-query`;
	// SPEC §12: the Worker signs in with the stand-in's Microsoft and Google; the peer takes its tokens.
	const oauth = await startLocalOAuth();
	const smtp = await startSmtpPeer({ oauth });
	const server = await startLocalServer({ extraVars: oauth.workerVars() }).catch(async (error: unknown) => {
		await dns.close();
		await smtp.close();
		await oauth.close();
		throw error;
	});
	project.provide('e2eBaseUrl', server.baseUrl);
	project.provide('e2eAdminToken', server.adminToken);
	project.provide('e2eDohOrigin', dns.origin);
	project.provide('e2eSmtpPort', smtp.port);
	project.provide('e2eSmtpControl', smtp.control);
	project.provide('e2eOAuthControl', `${oauth.origin}/__control`);
	return async () => {
		await server.stop();
		await dns.close();
		await smtp.close();
		await oauth.close();
	};
}
