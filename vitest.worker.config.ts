import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { bundleDependencies } from './tests/worker/bundle-deps';
import { bundleMailauth } from './tests/worker/bundle-mailauth';

/** Worker tests run inside workerd, against local D1 built from the real migrations. */
/** The OAuth stand-in's Worker settings (tests/worker/smtp-servers.ts provides them). */
const oauthVars = (standIn: string | undefined): Record<string, string> => (standIn ? (JSON.parse(standIn) as { vars: Record<string, string> }).vars : {});

/**
 * Test files of pure code: they import no `cloudflare:test` (no bindings, no SELF), none of the
 * helpers that call the Worker (helpers.ts, deliver.ts) and fetch nothing. They run in one workerd
 * for all of them (`isolate: false`) without the setup file: each file of the `worker` project pays
 * for a fresh workerd that loads the whole Worker (cloudflare:test imports wrangler.toml's main)
 * and applies the migrations, about 4 s a file on a quiet 2-core machine, which these files do not
 * need. A file that starts using any of those moves to the `worker` project by itself.
 */
const WORKER_TESTS = 'tests/worker/**/*.test.ts';
const PURE_TESTS = readdirSync(path.join(import.meta.dirname, 'tests/worker'), { recursive: true, encoding: 'utf8' })
	.filter((file) => file.endsWith('.test.ts'))
	.map((file) => `tests/worker/${file.split(path.sep).join('/')}`)
	.filter((file) => !/['"]cloudflare:test['"]|from '\.\/(helpers|deliver)'|\bfetch\(/.test(readFileSync(path.join(import.meta.dirname, file), 'utf8')));

export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, 'worker/migrations'));
	const [mailauth, dependencies] = await Promise.all([bundleMailauth(import.meta.dirname), bundleDependencies(import.meta.dirname)]);
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
						// The global setups' values (undefined in the `worker-pure` project, which has none).
						ACCESS_JWKS_ORIGIN: inject('accessJwksOrigin') ?? '',
						ACCESS_TEST_PRIVATE_JWK: inject('accessPrivateJwk') ?? '',
						// The SMTP test cases connect to servers on loopback (tests/worker/smtp-servers.ts).
						ALLOW_PRIVATE_SMTP_HOSTS: 'true',
						// Webhooks go to receivers on loopback (tests/worker/webhooks.test.ts); the URL-rule tests turn it off.
						ALLOW_PRIVATE_WEBHOOK_HOSTS: 'true',
						SMTP_TEST_PORTS: inject('smtpPorts') ?? '',
						// DNS for SPF, DKIM, DMARC and ARC from the loopback DoH server (tests/worker/doh-server.ts).
						DNS_RESOLVER_URL: `${inject('dohOrigin') ?? ''}/dns-query`,
						DOH_TEST_ORIGIN: inject('dohOrigin') ?? '',
						WEBHOOK_TEST_ORIGIN: inject('webhookOrigin') ?? '',
						TRUSTED_ARC_SEALERS: 'forwarder.trusted.test',
						// SPEC §12: both providers' endpoints and clients are the loopback stand-in's (scripts/local-oauth.mjs).
						...oauthVars(inject('oauthStandIn')),
						OAUTH_TEST_ORIGIN: (JSON.parse(inject('oauthStandIn') ?? '{"origin":""}') as { origin: string }).origin
					}
				}
			}))
		],
		resolve: {
			// mailauth as wrangler bundles it (see tests/worker/bundle-mailauth.ts).
			alias: [
				{ find: /^mailauth$/, replacement: mailauth },
				// zod, jose and html-to-text as one module each (see tests/worker/bundle-deps.ts).
				...dependencies,
				// As wrangler.toml [alias]: the Worker's `module` is the shim (worker/shims/module.ts).
				{ find: /^module$/, replacement: path.join(import.meta.dirname, 'worker/shims/module.ts') }
			]
		},
		test: {
			projects: [
				{
					extends: true,
					test: {
						name: 'worker',
						include: [WORKER_TESTS],
						// One file at a time, as vitest chooses on 2 cores (CPUs - 1), on any machine: the files
						// share the global setups' loopback peers, and some tests change the OAuth stand-in's
						// settings for everyone (deny, signInAs, scripted API answers, its refresh count). Run
						// side by side (`--maxWorkers=4`), api-send.test.ts met oauth.test.ts's wrong account.
						maxWorkers: 1,
						exclude: PURE_TESTS,
						setupFiles: ['tests/worker/setup.ts'],
						globalSetup: ['tests/worker/global-setup.ts', 'tests/worker/smtp-servers.ts', 'tests/worker/doh-server.ts', 'tests/worker/webhook-receiver.ts']
					}
				},
				{ extends: true, test: { name: 'worker-pure', include: PURE_TESTS, isolate: false } }
			]
		}
	};
});
