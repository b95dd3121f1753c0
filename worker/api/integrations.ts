/** /api/integrations: request -> schema -> repository -> response. */
import {
	integrationCreateSchema,
	integrationUpdateSchema,
	type Integration
} from '../../src/lib/schema/integration';
import * as db from '../db/integrations';
import { isForeignKeyViolation, isUniqueViolation } from '../db/errors';
import { HttpError, json, noContent, readBody } from './http';
import type { Handler } from './route';

const nameTaken = () =>
	new HttpError(409, 'name_taken', 'Another channel integration already has this name.', {
		fields: { name: 'Another channel integration already has this name' }
	});

const notFound = () => new HttpError(404, 'not_found', 'This channel integration does not exist.');

export const list: Handler = async ({ env }) => json({ items: await db.listIntegrations(env.DB) });

export const read: Handler = async ({ env, params }) => {
	const integration = await db.findIntegration(env.DB, params.id!);
	if (!integration) throw notFound();
	return json(integration);
};

export const create: Handler = async ({ request, env, now }) => {
	const input = await readBody(request, integrationCreateSchema);
	if (input.id) {
		// A retried create (SPEC §6): the first attempt already made it.
		const existing = await db.findIntegration(env.DB, input.id);
		if (existing) return json(existing, 200);
	}
	if (await db.findIntegrationByName(env.DB, input.name)) throw nameTaken();
	const at = now().toISOString();
	const integration: Integration = {
		id: input.id ?? crypto.randomUUID(),
		name: input.name,
		version: 1,
		createdAt: at,
		updatedAt: at
	};
	try {
		await db.insertIntegration(env.DB, integration);
	} catch (error) {
		if (isUniqueViolation(error)) throw nameTaken();
		throw error;
	}
	return json(integration, 201, { location: `/api/integrations/${integration.id}` });
};

export const update: Handler = async ({ request, env, params, now }) => {
	const input = await readBody(request, integrationUpdateSchema);
	const current = await db.findIntegration(env.DB, params.id!);
	if (!current) throw notFound();
	const expectedVersion = input.version ?? current.version;
	if (expectedVersion !== current.version) throw versionConflict(current);
	if (await db.findIntegrationByName(env.DB, input.name, current.id)) throw nameTaken();
	let renamed: boolean;
	try {
		renamed = await db.renameIntegration(env.DB, {
			id: current.id,
			name: input.name,
			expectedVersion,
			updatedAt: now().toISOString()
		});
	} catch (error) {
		if (isUniqueViolation(error)) throw nameTaken();
		throw error;
	}
	const saved = await db.findIntegration(env.DB, current.id);
	if (!saved) throw notFound();
	if (!renamed) throw versionConflict(saved);
	return json(saved);
};

export const remove: Handler = async ({ env, params }) => {
	const id = params.id!;
	if (!(await db.findIntegration(env.DB, id))) throw notFound();
	const users = await db.countMailboxesUsing(env.DB, id);
	if (users > 0) throw inUse(users);
	try {
		await db.deleteIntegration(env.DB, id);
	} catch (error) {
		// A mailbox was attached between the count and the delete.
		if (isForeignKeyViolation(error)) throw inUse(await db.countMailboxesUsing(env.DB, id));
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
