/**
 * The help desk's side (SPEC §11): webhook settings on a channel integration, the events and
 * their deliveries, and API keys. Shared by the Worker and the integration page.
 */
import { z } from 'zod';
import { requiredText, timestampSchema } from './fields';
import { isPrivateHost } from './private-host';

export const webhookEventValues = ['message.received', 'message.rejected', 'outbound.sent', 'outbound.failed', 'outbound.bounced'] as const;
export type WebhookEventType = (typeof webhookEventValues)[number];
/** SPEC §11: on unless the admin turns them off; `message.rejected` is off by default. */
export const defaultWebhookEvents: WebhookEventType[] = ['message.received', 'outbound.sent', 'outbound.failed', 'outbound.bounced'];

export const webhookEventLabels: Record<WebhookEventType, string> = {
	'message.received': 'A message is received (accepted or quarantined)',
	'message.rejected': 'A message is rejected',
	'outbound.sent': 'A reply is sent',
	'outbound.failed': 'A reply fails',
	'outbound.bounced': 'A reply bounces'
};

/** A URL no longer than browsers and proxies handle everywhere. */
export const MAX_WEBHOOK_URL_LENGTH = 2000;

/** SPEC §11 URL rules as a pure check; `allowPrivate` is ALLOW_PRIVATE_WEBHOOK_HOSTS. Null when fine. */
export function checkWebhookUrl(value: string, allowPrivate: boolean): string | null {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		return 'Enter a full URL, like https://desk.example.com/hooks/mailgate';
	}
	if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'The webhook URL must start with https://';
	if (url.username || url.password) return 'Put no user name or password in the URL; Mailgate signs every request instead';
	if (url.hash) return 'A webhook URL has no #fragment';
	// SSRF: the one rule SMTP servers follow too (private-host.ts), on the parser's canonical host.
	if (!allowPrivate && isPrivateHost(url.hostname)) {
		return `${url.hostname} is a private, loopback or link-local address; the help desk must be reachable from the internet`;
	}
	return null;
}

export const webhookSettingsSchema = z.object({
	url: z
		.string({ error: 'Enter the webhook URL' })
		.trim()
		.min(1, { error: 'Enter the webhook URL' })
		.max(MAX_WEBHOOK_URL_LENGTH, { error: `The URL is at most ${MAX_WEBHOOK_URL_LENGTH} characters` }),
	events: z
		.array(z.enum(webhookEventValues, { error: `Events are ${webhookEventValues.join(', ')}` }), { error: 'Choose the events to send' })
		.min(1, { error: 'Choose at least one event' })
		.default(defaultWebhookEvents)
});
export type WebhookSettingsInput = z.input<typeof webhookSettingsSchema>;

/** The webhook as the API shows it: never the secret. */
export const webhookSchema = z.object({ url: z.string(), events: z.array(z.enum(webhookEventValues)), updatedAt: timestampSchema.nullable() });
export type Webhook = z.infer<typeof webhookSchema>;

export const webhookAttemptSchema = z.object({
	at: timestampSchema,
	/** The HTTP status, or null when no answer came (timeout, connection refused). */
	status: z.number().int().nullable(),
	durationMs: z.number(),
	error: z.string().optional(),
	/** The first 1 KB of the answer. */
	response: z.string()
});
export type WebhookAttempt = z.infer<typeof webhookAttemptSchema>;

export const webhookDeliveryStatusValues = ['pending', 'delivering', 'delivered', 'failed'] as const;

export const webhookDeliverySchema = z.object({
	id: z.string(),
	type: z.string(),
	subjectId: z.string().nullable(),
	status: z.enum(webhookDeliveryStatusValues),
	createdAt: timestampSchema,
	nextAttemptAt: timestampSchema.nullable(),
	deliveredAt: timestampSchema.nullable(),
	attempts: z.array(webhookAttemptSchema)
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/** `POST /api/integrations/:id/webhook-test`: what the help desk answered, at once. */
export const webhookTestResultSchema = z.object({
	ok: z.boolean(),
	id: z.string(),
	attempt: webhookAttemptSchema
});

export const MAX_API_KEY_NAME_LENGTH = 100;
export const apiKeyCreateSchema = z.object({ name: requiredText({ what: 'key name', label: 'The name', max: MAX_API_KEY_NAME_LENGTH }) });

export const apiKeySchema = z.object({
	id: z.string(),
	name: z.string(),
	createdAt: timestampSchema,
	lastUsedAt: timestampSchema.nullable()
});
export type ApiKey = z.infer<typeof apiKeySchema>;
/** Only the answer to a create carries the key, once. */
export const createdApiKeySchema = apiKeySchema.omit({ lastUsedAt: true }).extend({ key: z.string() });
