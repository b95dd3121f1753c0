/**
 * Webhook delivery (SPEC §11): Standard Webhooks signing, one POST per attempt, at least once.
 * The WEBHOOK_QUEUE consumer claims each event in D1 (a redelivered queue message never sends
 * one already delivered), sends it, and records the attempt; `settle` is the one place that
 * decides delivered, retry later or failed.
 */
import { checkWebhookUrl, type WebhookAttempt } from '../../src/lib/schema/webhook';
import { findIntegration, findWebhookSecret } from '../db/integrations';
import { claimEvent, findEvent, finishEventAttempt, findStrandedEvents, touchEvent, type StoredEvent } from '../db/webhooks';
import { openWebhookSecret } from './secret';
import { MAX_QUEUE_DELAY_SECONDS, nextWebhookAttemptAt, WEBHOOK_RESPONSE_BYTES, WEBHOOK_TIMEOUT_MS } from './retry-policy';

export interface WebhookQueueMessage {
	id: string;
}

type QueueMessage = Pick<Message<WebhookQueueMessage>, 'body' | 'ack' | 'retry'>;

export interface DeliveryDependencies {
	now?: () => Date;
	fetch?: typeof fetch;
}

/**
 * The Standard Webhooks signature (standardwebhooks.com, "Signature scheme"): `v1,` + base64 of
 * HMAC-SHA256 over `id.timestamp.body`, keyed with the base64-decoded secret after `whsec_`.
 * WebCrypto's native HMAC rather than the `standardwebhooks` package's pure-JS one, so a large
 * body costs no JavaScript hashing (bench/webhooks measured the two within noise of each other).
 * The tests verify every signature with the package, and check both sign identically.
 */
export async function signWebhook(options: { id: string; payload: string; secret: string; at: Date }): Promise<string> {
	const raw = atob(options.secret.replace(/^whsec_/, ''));
	const key = await crypto.subtle.importKey('raw', Uint8Array.from(raw, (c) => c.charCodeAt(0)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
	const signed = `${options.id}.${Math.floor(options.at.getTime() / 1000)}.${options.payload}`;
	const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed)));
	let binary = '';
	for (const byte of mac) binary += String.fromCharCode(byte);
	return `v1,${btoa(binary)}`;
}

/** The signed request of one attempt: Standard Webhooks headers over the stored body. */
export async function signedRequest(options: { id: string; payload: string; secret: string; url: string; at: Date }): Promise<Request> {
	const signature = await signWebhook(options);
	return new Request(options.url, {
		method: 'POST',
		// Never follow a redirect: it could lead anywhere, including hosts the URL rules refuse.
		redirect: 'manual',
		headers: {
			'content-type': 'application/json',
			'user-agent': 'Mailgate-Webhooks/1.0',
			'webhook-id': options.id,
			'webhook-timestamp': String(Math.floor(options.at.getTime() / 1000)),
			'webhook-signature': signature
		},
		body: options.payload
	});
}

/** One attempt: sign, POST within WEBHOOK_TIMEOUT_MS, keep the status, the time and the first 1 KB. */
export async function attemptDelivery(
	env: Env,
	event: { id: string; integrationId: string; payload: string },
	deps: DeliveryDependencies = {}
): Promise<WebhookAttempt> {
	const now = deps.now ?? (() => new Date());
	const at = now();
	const started = Date.now();
	const failed = (error: string, status: number | null = null, response = ''): WebhookAttempt => ({
		at: at.toISOString(),
		status,
		durationMs: Date.now() - started,
		error,
		response
	});
	const integration = await findIntegration(env.DB, event.integrationId);
	const sealed = await findWebhookSecret(env.DB, event.integrationId);
	if (!integration?.webhook || !sealed) return failed('The integration has no webhook any more.');
	// The rules are checked at every attempt too: the operator may have turned local hosts off.
	const refusal = checkWebhookUrl(integration.webhook.url, env.ALLOW_PRIVATE_WEBHOOK_HOSTS === 'true');
	if (refusal) return failed(`Not sent: ${refusal}.`);
	let secret: string;
	try {
		secret = await openWebhookSecret(env, event.integrationId, sealed);
	} catch {
		return failed('The signing secret cannot be decrypted with the current SMTP_ENCRYPTION_KEY; rotate the secret.');
	}
	const request = await signedRequest({ id: event.id, payload: event.payload, secret, url: integration.webhook.url, at });
	try {
		const response = await (deps.fetch ?? fetch)(request, { signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
		const text = await readStart(response, WEBHOOK_RESPONSE_BYTES);
		const attempt: WebhookAttempt = { at: at.toISOString(), status: response.status, durationMs: Date.now() - started, response: text };
		if (response.status < 200 || response.status > 299) {
			attempt.error =
				response.status >= 300 && response.status < 400
					? `The help desk answered a redirect (${response.status}); webhooks do not follow redirects: set the final URL.`
					: `The help desk answered ${response.status}; only a 2xx counts as received.`;
		}
		return attempt;
	} catch (error) {
		const name = error instanceof Error ? error.name : '';
		if (name === 'TimeoutError' || name === 'AbortError') return failed(`No answer within ${WEBHOOK_TIMEOUT_MS / 1000} seconds.`);
		return failed(`Could not reach the help desk: ${error instanceof Error ? error.message : String(error)}`);
	}
}

/** The first `limit` bytes of an answer, as text; the rest is never read. */
async function readStart(response: Response, limit: number): Promise<string> {
	if (!response.body) return '';
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	while (size < limit) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		size += value.byteLength;
	}
	await reader.cancel().catch(() => {});
	const bytes = new Uint8Array(Math.min(size, limit));
	let offset = 0;
	for (const chunk of chunks) {
		const part = chunk.subarray(0, bytes.byteLength - offset);
		bytes.set(part, offset);
		offset += part.byteLength;
		if (offset >= bytes.byteLength) break;
	}
	return new TextDecoder().decode(bytes);
}

/** The WEBHOOK_QUEUE consumer: each event claimed, sent and settled; events of a batch go out in parallel. */
export async function consumeWebhooks(messages: readonly QueueMessage[], env: Env, deps: DeliveryDependencies = {}): Promise<void> {
	const now = deps.now ?? (() => new Date());
	await Promise.all(
		messages.map(async (message) => {
			const id = typeof message.body?.id === 'string' ? message.body.id : null;
			const event = id ? await claimEvent(env.DB, id, now()) : null;
			if (!event) return notClaimed(env, id, message, now());
			const attempt = await attemptDelivery(env, event, deps);
			await settle(env, event, attempt, now());
			message.ack();
		})
	);
}

/** An event not taken: delivered or failed already (ack), or pending but not yet due (wait). */
async function notClaimed(env: Env, id: string | null, message: QueueMessage, at: Date): Promise<void> {
	const event = id ? await findEvent(env.DB, id) : null;
	if (event?.status === 'pending' && event.nextAttemptAt && Date.parse(event.nextAttemptAt) > at.getTime()) {
		// Queues delay at most 12 hours: the 24-hour wait is two hops.
		return message.retry({ delaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil((Date.parse(event.nextAttemptAt) - at.getTime()) / 1000)) });
	}
	message.ack();
}

async function settle(env: Env, event: StoredEvent, attempt: WebhookAttempt, at: Date): Promise<void> {
	if (attempt.status !== null && attempt.status >= 200 && attempt.status <= 299) {
		await finishEventAttempt(env.DB, event.id, { status: 'delivered', attempt, nextAttemptAt: null });
		return;
	}
	// The schedule counts from when the attempt started, not from when its answer was read.
	const next = nextWebhookAttemptAt(event.attempts.length + 1, new Date(attempt.at));
	if (!next) {
		await finishEventAttempt(env.DB, event.id, { status: 'failed', attempt, nextAttemptAt: null });
		return;
	}
	await finishEventAttempt(env.DB, event.id, { status: 'pending', attempt, nextAttemptAt: next.toISOString() });
	await enqueueEvents(env, [event.id], Math.min(MAX_QUEUE_DELAY_SECONDS, Math.round((next.getTime() - at.getTime()) / 1000)));
}

/** Hands events to the queue; a failed send is caught by the sweep (the events are in D1). */
export async function enqueueEvents(env: Env, ids: string[], delaySeconds?: number): Promise<void> {
	if (ids.length === 0) return;
	try {
		await env.WEBHOOK_QUEUE.sendBatch(ids.map((id) => ({ body: { id }, delaySeconds })));
	} catch (error) {
		console.error('webhook_enqueue_failed', { count: ids.length, error: error instanceof Error ? error.message : String(error) });
	}
}

/** A delivering event older than this was abandoned by a Worker that stopped. */
const DELIVERING_LEASE_MS = WEBHOOK_TIMEOUT_MS * 6;
const SWEEP_GRACE_MS = 2 * 60_000;
const SWEEP_LIMIT = 20;

/** The safety net under WEBHOOK_QUEUE (run by the 5-minute cron): nothing recorded is ever lost. */
export async function sweepWebhooks(env: Env, now: Date): Promise<number> {
	const stranded = await findStrandedEvents(
		env.DB,
		{ due: new Date(now.getTime() - SWEEP_GRACE_MS).toISOString(), delivering: new Date(now.getTime() - DELIVERING_LEASE_MS).toISOString() },
		SWEEP_LIMIT
	);
	// Due now (so the claim takes them), and not looked at again for SWEEP_GRACE_MS.
	for (const event of stranded) await touchEvent(env.DB, event.id, now.toISOString());
	await enqueueEvents(env, stranded.map((event) => event.id));
	return stranded.length;
}
