import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createIntegration, createMailbox, unique } from './helpers';

describe('integrations API (SPEC §7)', () => {
	it('creates, lists, renames and deletes', async () => {
		const name = unique('Acme EU support');
		const created = await call('POST', '/api/integrations', { body: { name: `  ${name}  ` } });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ name, version: 1 });
		expect(Object.keys(created.body).sort()).toEqual(['createdAt', 'id', 'name', 'updatedAt', 'version', 'webhook']);

		const list = await call('GET', '/api/integrations');
		expect(list.body.items).toContainEqual(created.body);

		const renamed = await call('PATCH', `/api/integrations/${created.body.id}`, { body: { name: `${name} (EU)` } });
		expect(renamed.status).toBe(200);
		expect(renamed.body).toMatchObject({ name: `${name} (EU)`, version: 2 });

		expect((await call('DELETE', `/api/integrations/${created.body.id}`)).status).toBe(204);
		expect((await call('GET', `/api/integrations/${created.body.id}`)).status).toBe(404);
	});

	it('refuses a duplicate name, case-insensitively, on create and rename', async () => {
		const first = await createIntegration();
		const dup = await call('POST', '/api/integrations', { body: { name: first.name.toUpperCase() } });
		expect(dup.status).toBe(409);
		expect(dup.body.error.fields.name).toContain('already has this name');
		const other = await createIntegration();
		const rename = await call('PATCH', `/api/integrations/${other.id}`, { body: { name: first.name } });
		expect(rename.status).toBe(409);
	});

	it('refuses to delete an integration a mailbox uses, and says how many', async () => {
		const mailbox = await createMailbox();
		const answer = await call('DELETE', `/api/integrations/${mailbox.integrationId}`);
		expect(answer.status).toBe(409);
		expect(answer.body.error.code).toBe('integration_in_use');
		expect(answer.body.error.message).toContain('1 mailbox uses');
		expect((await call('GET', `/api/integrations/${mailbox.integrationId}`)).status).toBe(200);
		// Once the mailbox is gone, the integration can go.
		await call('DELETE', `/api/mailboxes/${mailbox.id}`);
		expect((await call('DELETE', `/api/integrations/${mailbox.integrationId}`)).status).toBe(204);
	});

	it('enforces the integration link in the database too', async () => {
		const mailbox = await createMailbox();
		await expect(
			env.DB.prepare('DELETE FROM integrations WHERE id = ?1').bind(mailbox.integrationId).run()
		).rejects.toThrow(/FOREIGN KEY/);
	});

	it('answers a stale rename with 409 and the current copy', async () => {
		const integration = await createIntegration();
		await call('PATCH', `/api/integrations/${integration.id}`, { body: { name: unique('First'), version: 1 } });
		const stale = await call('PATCH', `/api/integrations/${integration.id}`, { body: { name: unique('Second'), version: 1 } });
		expect(stale.status).toBe(409);
		expect(stale.body.error.code).toBe('version_conflict');
		expect(stale.body.error.current.version).toBe(2);
	});

	it('makes a retried create with the same client id idempotent', async () => {
		const id = crypto.randomUUID();
		const body = { id, name: unique('Retried') };
		expect((await call('POST', '/api/integrations', { body })).status).toBe(201);
		const retry = await call('POST', '/api/integrations', { body });
		expect(retry.status).toBe(200);
		expect(retry.body.id).toBe(id);
	});

	it('answers 404 for an unknown integration', async () => {
		expect((await call('PATCH', '/api/integrations/nope', { body: { name: 'x' } })).status).toBe(404);
		expect((await call('DELETE', '/api/integrations/nope')).status).toBe(404);
	});
});
