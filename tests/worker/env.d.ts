import type { D1Migration } from '@cloudflare/vitest-pool-workers';

declare global {
	namespace Cloudflare {
		interface Env {
			TEST_MIGRATIONS: D1Migration[];
			ACCESS_JWKS_ORIGIN: string;
			ACCESS_TEST_PRIVATE_JWK: string;
			SMTP_TEST_PORTS: string;
			DOH_TEST_ORIGIN: string;
			WEBHOOK_TEST_ORIGIN: string;
			/** The OAuth 2.0 provider stand-in (scripts/local-oauth.mjs); `/__control` drives it. */
			OAUTH_TEST_ORIGIN: string;
		}
	}
}
