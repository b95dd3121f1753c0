/**
 * The Worker's settings, read once per Env by one zod schema (worker/services.ts calls readConfig),
 * so a flag is parsed in one place and domain code gets typed values, never `env.X === 'true'`.
 * Bindings (D1, R2, the queues) are not settings: services.ts names them beside the Config.
 */
import { z } from 'zod';
import { createCachingResolver, createDohResolver, DEFAULT_DNS_RESOLVER_URL, type CachingResolver } from './dns/doh-resolver';
import { createSealer, type Sealer } from './crypto/sealer';
import { parseTrustedSealers } from './inbound/policy';
import { validEhloName } from './smtp/ehlo-name';

/** A wrangler.toml flag: exactly "true" turns it on (as before: "1", "yes" or a typo leave it off). */
const flag = z
	.string()
	.optional()
	.transform((value) => value?.trim() === 'true');

/** An optional text setting: absent and blank are the same, "". */
const text = z
	.string()
	.optional()
	.transform((value) => value?.trim() ?? '');

/** A positive whole number, or null when unset or not one (the setting's documented default). */
const positiveInteger = z
	.string()
	.optional()
	.transform((value) => {
		const number = Number(value);
		return value?.trim() && Number.isInteger(number) && number > 0 ? number : null;
	});

const configSchema = z.object({
	ADMIN_TOKEN: text,
	SMTP_ENCRYPTION_KEY: text,
	ACCESS_TEAM_DOMAIN: text,
	ACCESS_AUD: text,
	ALLOW_PRIVATE_SMTP_HOSTS: flag,
	ALLOW_PRIVATE_WEBHOOK_HOSTS: flag,
	OUTBOUND_MESSAGES_PER_SESSION: positiveInteger,
	SMTP_EHLO_NAME: text,
	PUBLIC_ORIGIN: text,
	DNS_RESOLVER_URL: text,
	TRUSTED_ARC_SEALERS: text,
	RATE_LIMITS: text,
	OAUTH_MICROSOFT_CLIENT_ID: text,
	OAUTH_MICROSOFT_CLIENT_SECRET: text,
	OAUTH_MICROSOFT_TENANT: text,
	OAUTH_MICROSOFT_AUTHORIZE_URL: text,
	OAUTH_MICROSOFT_TOKEN_URL: text,
	OAUTH_GOOGLE_CLIENT_ID: text,
	OAUTH_GOOGLE_CLIENT_SECRET: text,
	OAUTH_GOOGLE_AUTHORIZE_URL: text,
	OAUTH_GOOGLE_TOKEN_URL: text,
	OAUTH_MICROSOFT_GRAPH_URL: text,
	OAUTH_GOOGLE_GMAIL_URL: text
});

type Settings = z.infer<typeof configSchema>;

export interface Config {
	adminToken: string;
	/** Cloudflare Access: both set, or null (the admin token only). */
	access: { teamDomain: string; aud: string } | null;
	/** SMTP tests, replies and probes may reach private and loopback hosts (local use only). */
	allowPrivateSmtpHosts: boolean;
	/** Webhooks may go to http:// and private or loopback hosts (local use only). */
	allowPrivateWebhookHosts: boolean;
	/** Replies sent over one SMTP session before a new one is opened; null: the whole batch. */
	outboundMessagesPerSession: number | null;
	/** SMTP_EHLO_NAME: the name every SMTP session greets with; "" (unset or not a domain): the service address's domain (smtp/ehlo-name.ts). */
	smtpEhloName: string;
	/** The Worker's public origin for absolute URLs in payloads; "" makes them relative. */
	publicOrigin: string;
	/** The DoH endpoint for SPF, DKIM, DMARC, ARC and the mail flow check. */
	dnsResolverUrl: string;
	/** ARC sealers whose valid chain may rescue a DMARC failure caused by forwarding (lower case). */
	trustedArcSealers: string[];
	/** `name=N` overrides of the API's rate limits (worker/api/rate-limit.ts parses them). */
	rateLimits: string;
	/** SPEC §12's provider settings, as worker/oauth/providers.ts reads them. */
	oauth: Pick<
		Settings,
		| 'OAUTH_MICROSOFT_CLIENT_ID'
		| 'OAUTH_MICROSOFT_CLIENT_SECRET'
		| 'OAUTH_MICROSOFT_TENANT'
		| 'OAUTH_MICROSOFT_AUTHORIZE_URL'
		| 'OAUTH_MICROSOFT_TOKEN_URL'
		| 'OAUTH_GOOGLE_CLIENT_ID'
		| 'OAUTH_GOOGLE_CLIENT_SECRET'
		| 'OAUTH_GOOGLE_AUTHORIZE_URL'
		| 'OAUTH_GOOGLE_TOKEN_URL'
		| 'OAUTH_MICROSOFT_GRAPH_URL'
		| 'OAUTH_GOOGLE_GMAIL_URL'
	>;
	/** The one sealing path for stored secrets (worker/crypto/sealer.ts), under SMTP_ENCRYPTION_KEY. */
	sealer: Sealer;
	/** A DoH resolver with a cache for one message or one check (each call a fresh cache). */
	resolver: () => CachingResolver;
}

const cache = new WeakMap<object, Config>();

/**
 * The settings of `env`, parsed once per Env object (workerd hands the same object to every
 * invocation of an isolate). Every field is optional text, so parsing cannot fail on a
 * deployment's values; a setting that does not parse has its documented default.
 */
export function readConfig(env: Partial<Record<keyof Settings, string>>): Config {
	const cached = cache.get(env);
	if (cached) return cached;
	const settings = configSchema.parse(pickSettings(env));
	const dnsResolverUrl = settings.DNS_RESOLVER_URL || DEFAULT_DNS_RESOLVER_URL;
	const config: Config = {
		adminToken: settings.ADMIN_TOKEN,
		access: settings.ACCESS_TEAM_DOMAIN && settings.ACCESS_AUD ? { teamDomain: settings.ACCESS_TEAM_DOMAIN, aud: settings.ACCESS_AUD } : null,
		allowPrivateSmtpHosts: settings.ALLOW_PRIVATE_SMTP_HOSTS,
		allowPrivateWebhookHosts: settings.ALLOW_PRIVATE_WEBHOOK_HOSTS,
		outboundMessagesPerSession: settings.OUTBOUND_MESSAGES_PER_SESSION,
		smtpEhloName: validEhloName(settings.SMTP_EHLO_NAME),
		publicOrigin: settings.PUBLIC_ORIGIN,
		dnsResolverUrl,
		trustedArcSealers: parseTrustedSealers(settings.TRUSTED_ARC_SEALERS),
		rateLimits: settings.RATE_LIMITS,
		oauth: {
			OAUTH_MICROSOFT_CLIENT_ID: settings.OAUTH_MICROSOFT_CLIENT_ID,
			OAUTH_MICROSOFT_CLIENT_SECRET: settings.OAUTH_MICROSOFT_CLIENT_SECRET,
			OAUTH_MICROSOFT_TENANT: settings.OAUTH_MICROSOFT_TENANT,
			OAUTH_MICROSOFT_AUTHORIZE_URL: settings.OAUTH_MICROSOFT_AUTHORIZE_URL,
			OAUTH_MICROSOFT_TOKEN_URL: settings.OAUTH_MICROSOFT_TOKEN_URL,
			OAUTH_GOOGLE_CLIENT_ID: settings.OAUTH_GOOGLE_CLIENT_ID,
			OAUTH_GOOGLE_CLIENT_SECRET: settings.OAUTH_GOOGLE_CLIENT_SECRET,
			OAUTH_GOOGLE_AUTHORIZE_URL: settings.OAUTH_GOOGLE_AUTHORIZE_URL,
			OAUTH_GOOGLE_TOKEN_URL: settings.OAUTH_GOOGLE_TOKEN_URL,
			OAUTH_MICROSOFT_GRAPH_URL: settings.OAUTH_MICROSOFT_GRAPH_URL,
			OAUTH_GOOGLE_GMAIL_URL: settings.OAUTH_GOOGLE_GMAIL_URL
		},
		sealer: createSealer(settings.SMTP_ENCRYPTION_KEY),
		resolver: () => createCachingResolver(createDohResolver({ url: dnsResolverUrl }))
	};
	cache.set(env, config);
	return config;
}

/** Only the settings' own keys: bindings (D1, R2, queues) are objects and never reach the schema. */
function pickSettings(env: Partial<Record<string, unknown>>): Record<string, string | undefined> {
	const picked: Record<string, string | undefined> = {};
	for (const key of Object.keys(configSchema.shape)) {
		const value = env[key];
		picked[key] = typeof value === 'string' ? value : undefined;
	}
	return picked;
}
