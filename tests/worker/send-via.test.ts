/**
 * SPEC §14's setting `smtp.sendVia` through the real API and D1: absent on create means SMTP,
 * absent on an update means unchanged; the API only with an OAuth sign-in (422 on the field);
 * with the API the server, port and encryption may be left out and are stored as the provider's
 * SMTP server (the columns stay complete for a switch back).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createIntegration, mailboxInput, unique } from './helpers';

const NEEDS_OAUTH = "Sending through the provider's API needs Sign-in with Microsoft 365 or Google";

async function create(smtp: Record<string, unknown>) {
	const integration = await createIntegration();
	const input = mailboxInput(integration.id);
	return call('POST', '/api/mailboxes', { body: { ...input, smtp } });
}

const row = (id: string) =>
	env.DB.prepare('SELECT smtp_host, smtp_port, smtp_encryption, smtp_send_via FROM mailboxes WHERE id = ?1').bind(id).first();

describe('smtp.sendVia (SPEC §14)', () => {
	it("the API with a provider's sign-in: server, port and encryption may be left out and become the provider's", async () => {
		const account = `${unique('desk')}@acme.example.com`;
		const microsoft = await create({ username: account, auth: 'oauth2', oauth: { provider: 'microsoft' }, sendVia: 'api' });
		expect(microsoft.status, microsoft.text).toBe(201);
		expect(microsoft.body.smtp).toMatchObject({ sendVia: 'api', host: 'smtp.office365.com', port: 587, encryption: 'starttls', auth: 'oauth2' });
		expect(await row(microsoft.body.id)).toEqual({ smtp_host: 'smtp.office365.com', smtp_port: 587, smtp_encryption: 'starttls', smtp_send_via: 'api' });
		expect((await call('GET', `/api/mailboxes/${microsoft.body.id}`)).body.smtp.sendVia).toBe('api');

		const google = await create({ username: account, auth: 'oauth2', oauth: { provider: 'google' }, sendVia: 'api', host: '', port: null });
		expect(google.status, google.text).toBe(201);
		expect(google.body.smtp).toMatchObject({ sendVia: 'api', host: 'smtp.gmail.com', port: 465, encryption: 'tls' });
		// What is given is kept (and checked as usual).
		const given = await create({ username: account, auth: 'oauth2', oauth: { provider: 'microsoft' }, sendVia: 'api', host: 'smtp.office365.us', port: 587, encryption: 'starttls' });
		expect(given.body.smtp.host).toBe('smtp.office365.us');
		const badPort = await create({ username: account, auth: 'oauth2', oauth: { provider: 'microsoft' }, sendVia: 'api', port: 25 });
		expect(badPort.status).toBe(422);
		expect(badPort.body.error.fields['smtp.port']).toContain('port 25 is blocked');
	});

	it('absent means SMTP; any list shows it; an unknown value is refused on the field', async () => {
		const created = await create({ host: 'smtp.acme.example.com', port: 587, username: 'desk', password: 'secret-1', encryption: 'starttls' });
		expect(created.status, created.text).toBe(201);
		expect(created.body.smtp.sendVia).toBe('smtp');
		expect((await row(created.body.id))?.smtp_send_via).toBe('smtp');
		const listed = (await call('GET', '/api/mailboxes')).body.items.find((m: { id: string }) => m.id === created.body.id);
		expect(listed.smtp.sendVia).toBe('smtp');

		const unknown = await create({ host: 'smtp.acme.example.com', port: 587, username: 'desk', auth: 'oauth2', oauth: { provider: 'google' }, encryption: 'tls', sendVia: 'graph' });
		expect(unknown.status).toBe(422);
		expect(unknown.body.error.fields['smtp.sendVia']).toBe("Choose SMTP server or the provider's API");
	});

	it('the API with a password sign-in: 422 on smtp.sendVia, on create and on update', async () => {
		const withPassword = await create({ host: 'smtp.acme.example.com', port: 587, username: 'desk', password: 'secret-1', encryption: 'starttls', sendVia: 'api' });
		expect(withPassword.status).toBe(422);
		expect(withPassword.body.error.fields['smtp.sendVia']).toBe(NEEDS_OAUTH);
		// Nothing filled in for a password sign-in: its server is still needed.
		const bare = await create({ username: 'desk', password: 'secret-1', sendVia: 'api' });
		expect(bare.status).toBe(422);
		expect(bare.body.error.fields).toMatchObject({ 'smtp.host': 'Enter the SMTP server address', 'smtp.port': 'Enter the port' });

		const password = await create({ host: 'smtp.acme.example.com', port: 587, username: 'desk', password: 'secret-1', encryption: 'starttls' });
		const refused = await call('PATCH', `/api/mailboxes/${password.body.id}`, { body: { version: 1, smtp: { sendVia: 'api' } } });
		expect(refused.status).toBe(422);
		expect(refused.body.error.fields['smtp.sendVia']).toBe(NEEDS_OAUTH);
	});

	it('an update: absent keeps it, a change moves the version; back to a password needs SMTP again', async () => {
		const account = `${unique('desk')}@acme.example.com`;
		const created = await create({ host: 'smtp.office365.com', port: 587, username: account, encryption: 'starttls', auth: 'oauth2', oauth: { provider: 'microsoft' } });
		expect(created.body.smtp.sendVia).toBe('smtp');
		const id = created.body.id;
		const toApi = await call('PATCH', `/api/mailboxes/${id}`, { body: { version: 1, smtp: { sendVia: 'api' } } });
		expect(toApi.status, toApi.text).toBe(200);
		expect(toApi.body).toMatchObject({ version: 2, smtp: { sendVia: 'api', host: 'smtp.office365.com' } });
		const renamed = await call('PATCH', `/api/mailboxes/${id}`, { body: { version: 2, name: 'Renamed' } });
		expect(renamed.body.smtp.sendVia).toBe('api');

		const passwordOnly = await call('PATCH', `/api/mailboxes/${id}`, { body: { version: 3, smtp: { auth: 'password', password: 'secret-2' } } });
		expect(passwordOnly.status).toBe(422);
		expect(passwordOnly.body.error.fields['smtp.sendVia']).toBe(NEEDS_OAUTH);
		const back = await call('PATCH', `/api/mailboxes/${id}`, { body: { version: 3, smtp: { auth: 'password', password: 'secret-2', sendVia: 'smtp' } } });
		expect(back.status, back.text).toBe(200);
		expect(back.body.smtp).toMatchObject({ auth: 'password', sendVia: 'smtp', hasPassword: true, oauth: null });
		expect((await row(id))?.smtp_send_via).toBe('smtp');
	});
});
