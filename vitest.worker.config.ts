import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { bundleMailauth } from './tests/worker/bundle-mailauth';

/** Worker tests run inside workerd, against local D1 built from the real migrations. */
/** The OAuth stand-in's Worker settings (tests/worker/smtp-servers.ts provides them). */
const oauthVars = (standIn: string): Record<string, string> => (JSON.parse(standIn) as { vars: Record<string, string> }).vars;

export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, 'worker/migrations'));
	const mailauth = await bundleMailauth(import.meta.dirname);
	return {
		plugins: [
			cloudflareTest(({ inject }) => ({
				wrangler: { configPath: './wrangler.toml' },
				miniflare: {
					bindings: {
						TEST_MIGRATIONS: migrations,
						ADMIN_TOKEN: 'test-admin-token-0123456789abcdef',
						// 32 bytes of 0x2a, base64: a fixed test key (production keys come from `npm start` or `wrangler secret put`).
						SMTP_ENCRYPTION_KEY: 'KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=',
						ACCESS_JWKS_ORIGIN: inject('accessJwksOrigin'),
						ACCESS_TEST_PRIVATE_JWK: inject('accessPrivateJwk'),
						// The SMTP test cases connect to servers on loopback (tests/worker/smtp-servers.ts).
						ALLOW_PRIVATE_SMTP_HOSTS: 'true',
						// Webhooks go to receivers on loopback (tests/worker/webhooks.test.ts); the URL-rule tests turn it off.
						ALLOW_PRIVATE_WEBHOOK_HOSTS: 'true',
						SMTP_TEST_PORTS: inject('smtpPorts'),
						// DNS for SPF, DKIM, DMARC and ARC from the loopback DoH server (tests/worker/doh-server.ts).
						DNS_RESOLVER_URL: `${inject('dohOrigin')}/dns-query`,
						DOH_TEST_ORIGIN: inject('dohOrigin'),
						WEBHOOK_TEST_ORIGIN: inject('webhookOrigin'),
						TRUSTED_ARC_SEALERS: 'forwarder.trusted.test',
						// SPEC §12: both providers' endpoints and clients are the loopback stand-in's (scripts/local-oauth.mjs).
						...oauthVars(inject('oauthStandIn')),
						OAUTH_TEST_ORIGIN: (JSON.parse(inject('oauthStandIn')) as { origin: string }).origin
					}
				}
			}))
		],
		resolve: {
			// mailauth as wrangler bundles it (see tests/worker/bundle-mailauth.ts).
			alias: [
				{ find: /^mailauth$/, replacement: mailauth },
				// As wrangler.toml [alias]: the Worker's `module` is the shim (worker/shims/module.ts).
				{ find: /^module$/, replacement: path.join(import.meta.dirname, 'worker/shims/module.ts') }
			]
		},
		test: {
			include: ['tests/worker/**/*.test.ts'],
			setupFiles: ['tests/worker/setup.ts'],
			globalSetup: ['tests/worker/global-setup.ts', 'tests/worker/smtp-servers.ts', 'tests/worker/doh-server.ts', 'tests/worker/webhook-receiver.ts']
		}
	};
});
