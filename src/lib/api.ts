/**
 * The one fetch wrapper the app uses: adds the admin token, parses JSON, and turns every
 * failure into an `ApiFailure` carrying the SPEC §7 error (code, message, field errors).
 */
import { z } from 'zod';
import { apiErrorSchema, type ApiError } from './schema/api-error';
import {
	integrationSchema,
	type Integration,
	type IntegrationCreate,
	type IntegrationUpdate
} from './schema/integration';
import { mailboxSchema, type Mailbox, type MailboxCreate, type MailboxUpdate } from './schema/mailbox';
import { smtpTestResultSchema, type DraftSmtpTestRequest, type SmtpTestResult } from './schema/smtp-test';
import {
	garbledSendersSchema,
	mailboxHealthListSchema,
	messageDetailSchema,
	messagePageSchema,
	type MessageDetail,
	type MessageFilters,
	type MessagePage
} from './schema/message';
import {
	outboundDetailSchema,
	outboundItemSchema,
	outboundPageSchema,
	type OutboundDetail,
	type OutboundFilters,
	type OutboundItem,
	type OutboundPage,
	type OutboundRequest
} from './schema/outbound';
import {
	apiKeySchema,
	createdApiKeySchema,
	webhookDeliverySchema,
	webhookTestResultSchema
} from './schema/webhook';
import { flowCheckSchema, type FlowCheck } from './schema/flow-check';
import { oauthProvidersSchema, oauthStartResponseSchema } from './schema/oauth';
import type { OAuthProvider } from './schema/mailbox';
import { readToken } from './auth';

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/**
 * Calls `listener` whenever the API answers 401, wherever the call came from, so the app can
 * say once that the sign-in is not valid any more. Returns the unsubscribe function.
 */
export function onUnauthorized(listener: Listener): () => void {
	unauthorizedListeners.add(listener);
	return () => unauthorizedListeners.delete(listener);
}

export class ApiFailure extends Error {
	constructor(
		readonly status: number,
		readonly error: ApiError
	) {
		super(error.message);
		this.name = 'ApiFailure';
	}

	get fields(): Record<string, string> {
		return this.error.fields ?? {};
	}
}

/**
 * Sends one API request and returns the answer when it is a success; anything else becomes an
 * `ApiFailure` (status 0 when the server could not be reached), and a 401 tells the listeners.
 */
async function send(method: string, path: string, body?: unknown): Promise<Response> {
	const headers: Record<string, string> = { accept: 'application/json' };
	const token = readToken();
	if (token) headers.authorization = `Bearer ${token}`;
	// Every request that changes something says JSON, with a body or without (retry, rotate,
	// delete): the Worker refuses anything else, which keeps cross-site forms out (CSRF).
	if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['content-type'] = 'application/json';
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			cache: 'no-store'
		});
	} catch {
		throw new ApiFailure(0, { code: 'network', message: 'The server could not be reached. Check your connection.' });
	}
	if (response.ok) return response;
	if (response.status === 401) for (const listener of unauthorizedListeners) listener();
	const parsed = apiErrorSchema.safeParse(await response.json().catch(() => undefined));
	throw new ApiFailure(
		response.status,
		parsed.success ? parsed.data.error : { code: 'http_' + response.status, message: `The server answered ${response.status}.` }
	);
}

async function request<T>(schema: z.ZodType<T>, method: string, path: string, body?: unknown): Promise<T> {
	const response = await send(method, path, body);
	return schema.parse(await response.json().catch(() => undefined));
}

/** The query string of a list's filters (the log's, Sent mail's); empty values are left out. */
export function filterQuery(filters: (MessageFilters | OutboundFilters) & { cursor?: string | null }): string {
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
	const query = params.toString();
	return query ? `?${query}` : '';
}

/**
 * `GET /api/messages/:id/raw` needs the token, so a plain link cannot download it: the bytes are
 * fetched here and handed to the browser as a file named as the Worker says (`<Message-ID>.eml`).
 */
async function downloadOriginal(id: string): Promise<void> {
	await downloadEml(`/api/messages/${encodeURIComponent(id)}/raw`);
}

/** The same for an outbound message: exactly the bytes that were (or will be) sent. */
async function downloadOutbound(id: string): Promise<void> {
	await downloadEml(`/api/outbound/${encodeURIComponent(id)}/raw`);
}

async function downloadEml(path: string): Promise<void> {
	const response = await send('GET', path);
	const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'message.eml';
	saveFile(await response.blob(), name);
}

/** Hands a blob to the browser as a download named `name`. */
export function saveFile(blob: Blob, name: string): void {
	const url = URL.createObjectURL(blob);
	const link = document.createElement('a');
	link.href = url;
	link.download = name;
	document.body.append(link);
	link.click();
	link.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const list = <T>(item: z.ZodType<T>) => z.object({ items: z.array(item) });
const nothing = z.unknown();
const webhookSecret = z.object({ secret: z.string() });
const deliveryPage = z.object({ items: z.array(webhookDeliverySchema), nextCursor: z.string().nullable() });
/** `/api/integrations/:id` and what hangs off it. */
const integrationPath = (id: string, rest = '') => `/api/integrations/${encodeURIComponent(id)}${rest}`;

export const api = {
	listIntegrations: async () => (await request(list(integrationSchema), 'GET', '/api/integrations')).items,
	createIntegration: (input: IntegrationCreate): Promise<Integration> =>
		request(integrationSchema, 'POST', '/api/integrations', input),
	updateIntegration: (id: string, input: IntegrationUpdate): Promise<Integration> =>
		request(integrationSchema, 'PATCH', `/api/integrations/${encodeURIComponent(id)}`, input),
	deleteIntegration: (id: string) => request(nothing, 'DELETE', `/api/integrations/${encodeURIComponent(id)}`),

	listMailboxes: async () => (await request(list(mailboxSchema), 'GET', '/api/mailboxes')).items,
	getMailbox: (id: string): Promise<Mailbox> =>
		request(mailboxSchema, 'GET', `/api/mailboxes/${encodeURIComponent(id)}`),
	createMailbox: (input: MailboxCreate): Promise<Mailbox> =>
		request(mailboxSchema, 'POST', '/api/mailboxes', input),
	updateMailbox: (id: string, input: MailboxUpdate): Promise<Mailbox> =>
		request(mailboxSchema, 'PATCH', `/api/mailboxes/${encodeURIComponent(id)}`, input),
	deleteMailbox: (id: string) => request(nothing, 'DELETE', `/api/mailboxes/${encodeURIComponent(id)}`),

	/** SPEC §4: the SMTP sending test on a mailbox's saved settings. */
	testSavedSmtp: (id: string, to?: string): Promise<SmtpTestResult> =>
		request(smtpTestResultSchema, 'POST', `/api/mailboxes/${encodeURIComponent(id)}/smtp-test`, to ? { to } : {}),
	/** The same on the unsaved settings of the form; an empty password uses the stored one of `mailboxId`. */
	testDraftSmtp: (input: DraftSmtpTestRequest): Promise<SmtpTestResult> =>
		request(smtpTestResultSchema, 'POST', '/api/smtp-test', input),
	smtpTestHistory: async (id: string) =>
		(await request(list(smtpTestResultSchema), 'GET', `/api/mailboxes/${encodeURIComponent(id)}/smtp-tests`)).items,
	/** SPEC §12: which providers the Worker can sign in with, and the settings the others lack. */
	oauthProviders: () => request(oauthProvidersSchema, 'GET', '/api/oauth/providers'),
	/** SPEC §12: the provider's sign-in page for a saved mailbox whose Sign-in method is that provider. */
	startOAuth: (id: string, provider: OAuthProvider) =>
		request(oauthStartResponseSchema, 'POST', `/api/mailboxes/${encodeURIComponent(id)}/oauth/start`, { provider }),
	/** SPEC §13: starts a mail flow check (202, `running`); `409 check_running` while one runs. */
	startFlowCheck: (id: string): Promise<FlowCheck> =>
		request(flowCheckSchema, 'POST', `/api/mailboxes/${encodeURIComponent(id)}/flow-check`, {}),
	getFlowCheck: (id: string, checkId: string): Promise<FlowCheck> =>
		request(flowCheckSchema, 'GET', `/api/mailboxes/${encodeURIComponent(id)}/flow-checks/${encodeURIComponent(checkId)}`),

	/** SPEC §7: one page of the email log, newest first. */
	listMessages: (filters: MessageFilters, cursor?: string | null): Promise<MessagePage> =>
		request(messagePageSchema, 'GET', `/api/messages${filterQuery({ ...filters, cursor })}`),
	getMessage: (id: string): Promise<MessageDetail> =>
		request(messageDetailSchema, 'GET', `/api/messages/${encodeURIComponent(id)}`),
	downloadOriginal,
	/** Verdict counts for 24 hours and 30 days per mailbox, and the most common rejection reason. */
	mailboxHealth: async (mailboxId?: string) =>
		(await request(mailboxHealthListSchema, 'GET', `/api/mailbox-health${filterQuery({ mailboxId })}`)).items,
	/** Senders of garbled mail over the log's 30 days, most first. */
	garbledSenders: async (mailboxId?: string) =>
		(await request(garbledSendersSchema, 'GET', `/api/messages/garbled-senders${filterQuery({ mailboxId })}`)).items,

	/** SPEC §10: queues a message as the mailbox; a retried request with the same `id` returns the first item. */
	createOutbound: (mailboxId: string, input: OutboundRequest): Promise<OutboundItem> =>
		request(outboundItemSchema, 'POST', `/api/mailboxes/${encodeURIComponent(mailboxId)}/outbound`, input),
	/** SPEC §10: one page of Sent mail, newest first. */
	listOutbound: (filters: OutboundFilters, cursor?: string | null): Promise<OutboundPage> =>
		request(outboundPageSchema, 'GET', `/api/outbound${filterQuery({ ...filters, cursor })}`),
	getOutbound: (id: string): Promise<OutboundDetail> =>
		request(outboundDetailSchema, 'GET', `/api/outbound/${encodeURIComponent(id)}`),
	/** Queues a failed or bounced message again (`409 not_retryable` otherwise). */
	retryOutbound: (id: string): Promise<OutboundItem> =>
		request(outboundItemSchema, 'POST', `/api/outbound/${encodeURIComponent(id)}/retry`, {}),
	downloadOutbound,

	/** SPEC §11: the webhook's signing secret, shown on request (`409 no_webhook` without a webhook). */
	revealWebhookSecret: async (id: string) => (await request(webhookSecret, 'GET', integrationPath(id, '/webhook-secret'))).secret,
	/** A new signing secret at once; the old one stops verifying. */
	rotateWebhookSecret: async (id: string) => (await request(webhookSecret, 'POST', integrationPath(id, '/webhook-secret'), {})).secret,
	/** One signed test event, sent now; what the help desk answered. */
	sendWebhookTest: (id: string) => request(webhookTestResultSchema, 'POST', integrationPath(id, '/webhook-test'), {}),
	/** Recent deliveries, newest first, each with its attempts. */
	webhookDeliveries: (id: string, cursor?: string | null) =>
		request(deliveryPage, 'GET', integrationPath(id, `/webhook-deliveries${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`)),
	/** The same event (same webhook-id) again; `409 delivery_pending` while it is still being tried. */
	resendWebhookDelivery: (id: string, eventId: string) =>
		request(webhookDeliverySchema, 'POST', integrationPath(id, `/webhook-deliveries/${encodeURIComponent(eventId)}/resend`), {}),
	listApiKeys: async (id: string) => (await request(list(apiKeySchema), 'GET', integrationPath(id, '/keys'))).items,
	/** The answer is the only time the key itself is shown. */
	createApiKey: (id: string, name: string) => request(createdApiKeySchema, 'POST', integrationPath(id, '/keys'), { name }),
	revokeApiKey: (id: string, keyId: string) => request(nothing, 'DELETE', integrationPath(id, `/keys/${encodeURIComponent(keyId)}`))
};
