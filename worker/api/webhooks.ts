/**
 * The help desk's side over HTTP (SPEC §11): the webhook's signing secret, Send test event,
 * recent deliveries and Resend, and API keys. Admin routes (an API key reaches none of them).
 */
import { z } from 'zod';
import { fieldErrors } from '../../src/lib/schema/api-error';
import { apiKeyCreateSchema } from '../../src/lib/schema/webhook';
import { findIntegration, findWebhookSecret, replaceWebhookSecret } from '../db/integrations';
import { deleteApiKey, findEvent, insertApiKey, insertEventStatement, listApiKeys, listEvents, requeueEvent, toDelivery, finishEventAttempt } from '../db/webhooks';
import { hashApiKey, newApiKey } from '../auth/api-keys';
import { attemptDelivery } from '../webhooks/attempt';
import { enqueueEvents } from '../webhooks/enqueue';
import { testEvent } from '../webhooks/events';
import { newWebhookSecret } from '../webhooks/secret';
import { notFound } from './integrations';
import { HttpError, json, noContent, readBody, secretLost, validationFailed } from './http';
import { createdAfter, decodeCursor, pageOf, PAGE_SIZE } from './paging';
import type { Handler, RouteContext } from './route';

async function integrationOf({ services, params }: RouteContext) {
	const integration = await findIntegration(services.db, params.id!);
	if (!integration) throw notFound();
	return integration;
}

const noWebhook = () => new HttpError(409, 'no_webhook', 'Set a webhook URL first; its signing secret is made then.');

/** `GET /api/integrations/:id/webhook-secret`: shown to an admin on request (SPEC §11), never listed. */
export const revealSecret: Handler = async (context) => {
	const integration = await integrationOf(context);
	const sealed = await findWebhookSecret(context.services.db, integration.id);
	if (!sealed) throw noWebhook();
	const secret = await context.services.config.sealer.open('webhook-secret', { integrationId: integration.id }, sealed);
	if (!secret.ok) throw secretLost(secret.lost);
	return json({ secret: secret.value });
};

/** `POST /api/integrations/:id/webhook-secret`: a new secret at once; the old one stops verifying. */
export const rotateSecret: Handler = async (context) => {
	const integration = await integrationOf(context);
	const secret = newWebhookSecret();
	const sealed = await context.services.config.sealer.seal('webhook-secret', { integrationId: integration.id }, secret);
	if (!(await replaceWebhookSecret(context.services.db, integration.id, sealed))) throw noWebhook();
	return json({ secret });
};

/** `POST /api/integrations/:id/webhook-test`: one signed test event, sent now; its answer shown and kept. */
export const sendTest: Handler = async (context) => {
	const { services, now } = context;
	const integration = await integrationOf(context);
	if (!integration.webhook) throw noWebhook();
	const event = testEvent({ integrationId: integration.id, integrationName: integration.name, at: now().toISOString() });
	await insertEventStatement(services.db, event).run();
	const attempt = await attemptDelivery(services, event);
	const ok = attempt.status !== null && attempt.status >= 200 && attempt.status <= 299;
	// A test is never retried by itself: the admin sees the answer and sends another.
	await finishEventAttempt(services.db, { id: event.id, claimedAt: null }, { status: ok ? 'delivered' : 'failed', attempt, nextAttemptAt: null });
	return json({ ok, id: event.id, attempt });
};

const deliveriesQuery = z.object({ cursor: z.string().max(200).optional() });

/** `GET /api/integrations/:id/webhook-deliveries`: newest first, each with its attempts. */
export const deliveries: Handler = async (context) => {
	const integration = await integrationOf(context);
	const parsed = deliveriesQuery.safeParse(Object.fromEntries(new URL(context.request.url).searchParams));
	if (!parsed.success) throw validationFailed(fieldErrors(parsed.error.issues));
	const events = await listEvents(context.services.db, integration.id, {
		after: parsed.data.cursor ? createdAfter(decodeCursor(parsed.data.cursor)) : undefined,
		limit: PAGE_SIZE + 1
	});
	return json(pageOf(events, (event) => ({ at: event.createdAt, id: event.id }), toDelivery));
};

/**
 * `POST /api/integrations/:id/webhook-deliveries/:eventId/resend`: the same event (same
 * webhook-id) again: Resend of a delivered or failed one, Send now of one waiting to be retried.
 * 409 while an attempt is under way.
 */
export const resend: Handler = async (context) => {
	const integration = await integrationOf(context);
	const { services, params } = context;
	const event = await requeueEvent(services.db, params.eventId!, integration.id);
	if (!event) {
		const current = await findEvent(services.db, params.eventId!);
		if (!current || current.integrationId !== integration.id) throw new HttpError(404, 'not_found', 'No such delivery.');
		throw new HttpError(409, 'delivery_pending', 'This delivery is being sent right now; wait a moment for its answer.');
	}
	await enqueueEvents(services, [event.id]);
	return json(toDelivery(event), 202);
};

/** `POST /api/integrations/:id/keys`: the key is in this answer only; D1 keeps its SHA-256. */
export const createKey: Handler = async (context) => {
	const integration = await integrationOf(context);
	const input = await readBody(context.request, apiKeyCreateSchema);
	const key = newApiKey();
	const created = { id: crypto.randomUUID(), name: input.name, createdAt: context.now().toISOString() };
	await insertApiKey(context.services.db, { ...created, integrationId: integration.id, hash: await hashApiKey(key) });
	return json({ ...created, key }, 201);
};

export const listKeys: Handler = async (context) => {
	const integration = await integrationOf(context);
	return json({ items: await listApiKeys(context.services.db, integration.id) });
};

/** `DELETE /api/integrations/:id/keys/:keyId`: revoked at once (the next request with it is 401). */
export const revokeKey: Handler = async (context) => {
	const integration = await integrationOf(context);
	if (!(await deleteApiKey(context.services.db, context.params.keyId!, integration.id))) throw new HttpError(404, 'not_found', 'No such API key.');
	return noContent();
};
