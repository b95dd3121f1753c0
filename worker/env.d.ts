// Secrets are not in wrangler.toml, so `wrangler types` cannot see them: declared here.
// Set them with `wrangler secret put NAME` (production) or in .dev.vars (local; npm start writes it).
declare namespace Cloudflare {
	interface Env {
		/** The admin's bearer token for /api. */
		ADMIN_TOKEN?: string;
		/** 32 random bytes, base64: the AES-256-GCM key that encrypts SMTP passwords at rest. */
		SMTP_ENCRYPTION_KEY?: string;
	}
}
