// Secrets are not in wrangler.toml, so `wrangler types` cannot see them: declared here.
// Set them with `wrangler secret put NAME` (production) or in .dev.vars (local; npm start writes it).
declare namespace Cloudflare {
	interface Env {
		/** The admin's bearer token for /api. */
		ADMIN_TOKEN?: string;
		/** 32 random bytes, base64: the AES-256-GCM key that encrypts SMTP passwords (and OAuth tokens) at rest. */
		SMTP_ENCRYPTION_KEY?: string;
		/** SPEC §12: the Microsoft Entra app's client secret (Sign in with Microsoft 365). */
		OAUTH_MICROSOFT_CLIENT_SECRET?: string;
		/** SPEC §12: the Google Cloud OAuth client's secret (Sign in with Google). */
		OAUTH_GOOGLE_CLIENT_SECRET?: string;
		/** Optional, not a secret but not in wrangler.toml either: `name=N` pairs replacing the API's rate limits (worker/api/rate-limit.ts), e.g. `outbound-mailbox=120`. */
		RATE_LIMITS?: string;
	}
}
