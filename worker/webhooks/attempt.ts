/**
 * One webhook delivery attempt (SPEC §11): the integration's URL checked again, the secret
 * opened, the signed POST (worker/webhooks/request.ts), and what came back as a value: the
 * status, the time and the first 1 KB, or why it failed. Never throws; the consumer
 * (worker/webhooks/consumer.ts) settles the result, the API's Send test event shows it.
 */
import { checkWebhookUrl, type WebhookAttempt } from '../../src/lib/schema/webhook';
import { findIntegration, findWebhookSecret } from '../db/integrations';
import { readStart } from '../http/read-start';
import { signedRequest } from './request';
import type { Services } from '../services';

/** SPEC §11: a 2xx within this long is success; anything else, or nothing, is a failed attempt. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** How much of the help desk's answer is kept with each attempt (SPEC §11: the first 1 KB). */
export const WEBHOOK_RESPONSE_BYTES = 1024;

export interface DeliveryDependencies {
	now?: () => Date;
	fetch?: typeof fetch;
}

/** A 2xx answer is the only success (SPEC §11). */
export const delivered = (attempt: WebhookAttempt) => attempt.status !== null && attempt.status >= 200 && attempt.status <= 299;

/** One attempt: sign, POST within WEBHOOK_TIMEOUT_MS, keep the status, the time and the first 1 KB. */
export async function attemptDelivery(
	services: Pick<Services, 'db' | 'config'>,
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
	const integration = await findIntegration(services.db, event.integrationId);
	const sealed = await findWebhookSecret(services.db, event.integrationId);
	if (!integration?.webhook || !sealed) return failed('The integration has no webhook any more.');
	// The rules are checked at every attempt too: the operator may have turned local hosts off.
	const refusal = checkWebhookUrl(integration.webhook.url, services.config.allowPrivateWebhookHosts);
	if (refusal) return failed(`Not sent: ${refusal}.`);
	// The sealer's one rule for a value that no longer opens: its `config` hint (rotate the secret).
	const secret = await services.config.sealer.open('webhook-secret', { integrationId: event.integrationId }, sealed);
	if (!secret.ok) return failed(secret.lost.hint);
	const request = await signedRequest({ id: event.id, payload: event.payload, secret: secret.value, url: integration.webhook.url, at });
	try {
		const response = await (deps.fetch ?? fetch)(request, { signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
		const text = await readStart(response, WEBHOOK_RESPONSE_BYTES);
		const attempt: WebhookAttempt = { at: at.toISOString(), status: response.status, durationMs: Date.now() - started, response: text };
		if (!delivered(attempt)) {
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
