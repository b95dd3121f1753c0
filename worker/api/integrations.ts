/** /api/integrations: request -> schema -> repository -> response. */
import {
	integrationCreateSchema,
	integrationUpdateSchema,
	type Integration
} from '../../src/lib/schema/integration';
import * as db from '../db/integrations';
import { isForeignKeyViolation, unlessTaken } from '../db/errors';
import { checkWebhookUrl } from '../../src/lib/schema/webhook';
import { newWebhookSecret } from '../webhooks/secret';
import { HttpError, json, noContent, readBody, validationFailed } from './http';
import type { Handler } from './route';

const nameTaken = () =>
	new HttpError(409, 'name_taken', 'Another channel integration already has this name.', {
		fields: { name: 'Another channel integration already has this name' }
	});

export const notFound = () => new HttpError(404, 'not_found', 'This channel integration does not exist.');

export const list: Handler = async ({ services }) => json({ items: await db.listIntegrations(services.db) });

export const read: Handler = async ({ services, params }) => {
	const integration = await db.findIntegration(services.db, params.id!);
	if (!integration) throw notFound();
	return json(integration);
};

export const create: Handler = async ({ request, services, now }) => {
	const input = await readBody(request, integrationCreateSchema);
	if (input.id) {
		// A retried create (SPEC §6): the first attempt already made it.
		const existing = await db.findIntegration(services.db, input.id);
		if (existing) return json(existing, 200);
	}
	if (await db.findIntegrationByName(services.db, input.name)) throw nameTaken();
	const at = now().toISOString();
	const integration: Integration = {
		id: input.id ?? crypto.randomUUID(),
		name: input.name,
		version: 1,
		createdAt: at,
		updatedAt: at,
		webhook: null
	};
	await unlessTaken(db.insertIntegration(services.db, integration), nameTaken);
	return json(integration, 201, { location: `/api/integrations/${integration.id}` });
};

export const update: Handler = async ({ request, services, params, now }) => {
	const input = await readBody(request, integrationUpdateSchema);
	const current = await db.findIntegration(services.db, params.id!);
	if (!current) throw notFound();
	let expectedVersion = input.version ?? current.version;
	if (expectedVersion !== current.version) throw versionConflict(current);
	if (input.webhook) {
		// SPEC §11 URL rules, with the Worker's setting for local hosts.
		const refusal = checkWebhookUrl(input.webhook.url, services.config.allowPrivateWebhookHosts);
		if (refusal) throw validationFailed({ 'webhook.url': refusal });
	}
	if (input.name !== undefined && input.name !== current.name) {
		if (await db.findIntegrationByName(services.db, input.name, current.id)) throw nameTaken();
		const renamed = await unlessTaken(db.renameIntegration(services.db, { id: current.id, name: input.name, expectedVersion, updatedAt: now().toISOString() }), nameTaken);
		if (!renamed) throw versionConflict((await db.findIntegration(services.db, current.id)) ?? current);
		expectedVersion += 1;
	}
	if (input.webhook !== undefined) {
		// The signing secret is made when a webhook is first set (SPEC §11) and kept on later edits.
		const sealedSecret =
			input.webhook && !(await db.findWebhookSecret(services.db, current.id))
				? await services.config.sealer.seal('webhook-secret', { integrationId: current.id }, newWebhookSecret())
				: undefined;
		const set = await db.setWebhook(services.db, {
			id: current.id,
			webhook: input.webhook ? { url: new URL(input.webhook.url).href, events: [...new Set(input.webhook.events)] } : null,
			sealedSecret,
			expectedVersion,
			updatedAt: now().toISOString()
		});
		if (!set) throw versionConflict((await db.findIntegration(services.db, current.id)) ?? current);
	}
	const saved = await db.findIntegration(services.db, current.id);
	if (!saved) throw notFound();
	return json(saved);
};

export const remove: Handler = async ({ services, params }) => {
	const id = params.id!;
	if (!(await db.findIntegration(services.db, id))) throw notFound();
	const users = await db.countMailboxesUsing(services.db, id);
	if (users > 0) throw inUse(users);
	try {
		await db.deleteIntegration(services.db, id);
	} catch (error) {
		// A mailbox was attached between the count and the delete.
		if (isForeignKeyViolation(error)) throw inUse(await db.countMailboxesUsing(services.db, id));
		throw error;
	}
	return noContent();
};

function inUse(count: number): HttpError {
	const mailboxes = count === 1 ? '1 mailbox uses' : `${count} mailboxes use`;
	return new HttpError(
		409,
		'integration_in_use',
		`${mailboxes} this channel integration; move them to another integration or delete them first.`
	);
}

function versionConflict(current: Integration): HttpError {
	return new HttpError(409, 'version_conflict', 'This channel integration was changed meanwhile.', { current });
}
