import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../worker/config';
import { createSealer, type SealSubject } from '../../worker/crypto/sealer';
import { findMailbox } from '../../worker/db/mailboxes';
import { call, createIntegration, createMailbox, fetchWithEnv, mailboxInput, unique } from './helpers';

const PASSWORD = 'correct horse battery staple';

/** Opens a stored password as the Worker does (the sealer's `smtp-password` purpose, issue 18's binding). */
const openPassword = (sealed: string, mailboxId: string, smtp: SealSubject<'smtp-password'>['smtp']) =>
	readConfig(env).sealer.open('smtp-password', { mailboxId, smtp }, sealed);

async function storedRow(id: string) {
	return env.DB.prepare('SELECT * FROM mailboxes WHERE id = ?1').bind(id).first<Record<string, unknown>>();
}

describe('mailboxes API (SPEC §7)', () => {
	it('creates, reads, lists, updates and deletes', async () => {
		const integration = await createIntegration();
		const input = mailboxInput(integration.id, { manualForward: 'accept' });
		const created = await call('POST', '/api/mailboxes', { body: input });
		expect(created.status).toBe(201);
		expect(created.headers.get('location')).toBe(`/api/mailboxes/${created.body.id}`);
		expect(created.body).toMatchObject({
			integrationId: integration.id,
			name: input.name,
			description: input.description,
			address: input.address,
			smtp: { host: 'smtp.acme.example.com', port: 587, username: input.smtp.username, encryption: 'starttls', hasPassword: true },
			manualForward: 'accept',
			version: 1,
			lastSmtpTest: null
		});
		expect(created.body.createdAt).toBe(created.body.updatedAt);

		const read = await call('GET', `/api/mailboxes/${created.body.id}`);
		expect(read.body).toEqual(created.body);
		const list = await call('GET', '/api/mailboxes');
		expect(list.body.items).toContainEqual(created.body);

		const updated = await call('PATCH', `/api/mailboxes/${created.body.id}`, {
			// Another port and encryption: the password goes with them again (issue 18).
			body: { version: 1, name: 'Acme EU', smtp: { port: 465, encryption: 'tls', password: 'the same password, again' } }
		});
		expect(updated.status).toBe(200);
		expect(updated.body).toMatchObject({
			name: 'Acme EU',
			description: input.description,
			manualForward: 'accept',
			smtp: { host: 'smtp.acme.example.com', port: 465, encryption: 'tls', hasPassword: true },
			version: 2
		});

		expect((await call('DELETE', `/api/mailboxes/${created.body.id}`)).status).toBe(204);
		expect((await call('GET', `/api/mailboxes/${created.body.id}`)).status).toBe(404);
		expect((await call('DELETE', `/api/mailboxes/${created.body.id}`)).status).toBe(404);
	});

	it('defaults manual forwarding to reject and description to empty', async () => {
		const integration = await createIntegration();
		const { description: _omit, ...input } = mailboxInput(integration.id);
		const created = await call('POST', '/api/mailboxes', { body: input });
		expect(created.body.manualForward).toBe('reject');
		expect(created.body.description).toBe('');
	});

	it('refuses a second mailbox with the same address in another case', async () => {
		const first = await createMailbox();
		const integration = await createIntegration();
		const second = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, { address: first.address.toUpperCase() })
		});
		expect(second.status).toBe(409);
		expect(second.body.error.code).toBe('address_taken');
		expect(second.body.error.fields.address).toMatch(/already uses this service email address/);
	});

	it('refuses renaming an address onto another mailbox, and allows changing its own case', async () => {
		const a = await createMailbox();
		const b = await createMailbox();
		const clash = await call('PATCH', `/api/mailboxes/${b.id}`, { body: { version: 1, address: a.address } });
		expect(clash.status).toBe(409);
		expect(clash.body.error.fields.address).toBeDefined();
		const recase = await call('PATCH', `/api/mailboxes/${a.id}`, { body: { version: 1, address: a.address.toUpperCase() } });
		expect(recase.status).toBe(200);
		expect(recase.body.address).toBe(a.address.toUpperCase());
	});

	it('answers a stale version with 409 and the current copy, and changes nothing', async () => {
		const mailbox = await createMailbox();
		const first = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, name: 'First edit' } });
		expect(first.body.version).toBe(2);
		const stale = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, name: 'Second edit' } });
		expect(stale.status).toBe(409);
		expect(stale.body.error.code).toBe('version_conflict');
		expect(stale.body.error.current).toEqual(first.body);
		expect((await call('GET', `/api/mailboxes/${mailbox.id}`)).body.name).toBe('First edit');
	});

	it('requires the version on update', async () => {
		const mailbox = await createMailbox();
		const answer = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { name: 'No version' } });
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields.version).toBeDefined();
	});

	it('moves a mailbox to another integration only if it exists', async () => {
		const mailbox = await createMailbox();
		const other = await createIntegration();
		const missing = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, integrationId: 'gone' } });
		expect(missing.status).toBe(422);
		expect(missing.body.error.fields.integrationId).toContain('does not exist');
		const moved = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, integrationId: other.id } });
		expect(moved.body.integrationId).toBe(other.id);
	});

	it('makes a retried create with the same client id idempotent', async () => {
		const integration = await createIntegration();
		const id = crypto.randomUUID();
		const body = { ...mailboxInput(integration.id), id };
		const first = await call('POST', '/api/mailboxes', { body });
		const retry = await call('POST', '/api/mailboxes', { body });
		expect(first.status).toBe(201);
		expect(retry.status).toBe(200);
		expect(retry.body).toEqual(first.body);
		const count = await env.DB.prepare('SELECT COUNT(*) AS n FROM mailboxes WHERE id = ?1').bind(id).first<{ n: number }>();
		expect(count?.n).toBe(1);
	});

	it('answers 404 for unknown and absurd ids', async () => {
		expect((await call('GET', '/api/mailboxes/nope')).status).toBe(404);
		expect((await call('PATCH', '/api/mailboxes/nope', { body: { version: 1 } })).status).toBe(404);
		expect((await call('GET', `/api/mailboxes/${'x'.repeat(500)}`)).status).toBe(404);
	});
});

describe('the SMTP password is write-only and encrypted at rest', () => {
	it('never returns the password in any response', async () => {
		const mailbox = await createMailbox({ smtp: { password: PASSWORD } });
		for (const answer of [
			await call('GET', `/api/mailboxes/${mailbox.id}`),
			await call('GET', '/api/mailboxes'),
			await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, name: 'Renamed' } }),
			await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, name: 'Stale' } })
		]) {
			expect(answer.text).not.toContain(PASSWORD);
			// No password field (`"auth": "password"` names the sign-in method, SPEC §12).
			expect(answer.text).not.toMatch(/"password"\s*:/);
		}
		expect(JSON.stringify(mailbox)).not.toContain(PASSWORD);
		expect(mailbox.smtp).not.toHaveProperty('password');
	});

	it('stores AES-GCM ciphertext bound to the mailbox, decryptable only with the Worker secret', async () => {
		const mailbox = await createMailbox({ smtp: { password: PASSWORD } });
		const row = await storedRow(mailbox.id);
		const sealed = String(row?.smtp_password);
		expect(JSON.stringify(row)).not.toContain(PASSWORD);
		expect(sealed).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
		const { smtp } = (await findMailbox(env.DB, mailbox.id))!;
		expect(await openPassword(sealed, mailbox.id, smtp)).toEqual({ ok: true, value: PASSWORD });
		// Bound to its row: the same ciphertext does not open for another mailbox…
		expect((await openPassword(sealed, 'other', smtp)).ok).toBe(false);
		// …nor for another server, port, account or encryption (issue 18)…
		for (const change of [{ host: 'smtp.evil.example' }, { port: 2525 }, { username: 'someone@else.example' }, { encryption: 'none' as const }]) {
			expect((await openPassword(sealed, mailbox.id, { ...smtp, ...change })).ok).toBe(false);
		}
		// …and not with another key.
		const otherKey = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
		expect((await createSealer(otherKey).open('smtp-password', { mailboxId: mailbox.id, smtp }, sealed)).ok).toBe(false);
	});

	it('uses a fresh IV: the same password twice gives two ciphertexts', async () => {
		const a = await createMailbox({ smtp: { password: PASSWORD } });
		const b = await createMailbox({ smtp: { password: PASSWORD } });
		expect((await storedRow(a.id))?.smtp_password).not.toBe((await storedRow(b.id))?.smtp_password);
	});

	it('keeps the stored password when an update leaves it empty or out, and replaces it when given', async () => {
		const mailbox = await createMailbox({ smtp: { password: PASSWORD } });
		const before = (await storedRow(mailbox.id))?.smtp_password;
		// Empty with the same server settings keeps it (another server needs it again: credential-binding.test.ts).
		const empty = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 1, smtp: { password: '', port: 587 } } });
		expect(empty.body.smtp.hasPassword).toBe(true);
		const omitted = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 2, name: 'Still secret' } });
		expect(omitted.status).toBe(200);
		expect((await storedRow(mailbox.id))?.smtp_password).toBe(before);

		const replaced = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: 3, smtp: { password: 'new secret' } } });
		expect(replaced.status).toBe(200);
		const after = String((await storedRow(mailbox.id))?.smtp_password);
		expect(after).not.toBe(before);
		const { smtp } = (await findMailbox(env.DB, mailbox.id))!;
		expect(await openPassword(after, mailbox.id, smtp)).toEqual({ ok: true, value: 'new secret' });
	});

	it('refuses to store a password when the encryption key is missing, with 503 not 500', async () => {
		const integration = await createIntegration();
		const request = new Request('https://mailgate.test/api/mailboxes', {
			method: 'POST',
			headers: { authorization: 'Bearer test-admin-token-0123456789abcdef', 'content-type': 'application/json' },
			body: JSON.stringify(mailboxInput(integration.id, { address: `${unique('nokey')}@acme.example.com` }))
		});
		const response = await fetchWithEnv(request, { SMTP_ENCRYPTION_KEY: undefined });
		expect(response.status).toBe(503);
		const body = (await response.json()) as { error: { code: string; message: string } };
		expect(body.error.code).toBe('server_misconfigured');
		expect(body.error.message).toContain('SMTP_ENCRYPTION_KEY');
	});
});

describe('a passing test of unsaved settings is kept with the mailbox saved with them (issue 19, SPEC §16)', () => {
	const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
	const USER = 'support@acme.test';
	const SMTP_PASSWORD = 'Corr3ct-h0rse-battery';
	const smtp = (overrides: Record<string, unknown> = {}) => ({
		host: '127.0.0.1',
		port: ports.plain,
		username: USER,
		password: SMTP_PASSWORD,
		encryption: 'none',
		...overrides
	});

	async function formTest(settings = smtp()) {
		const answer = await call('POST', '/api/smtp-test', { body: { smtp: settings, to: 'receipt-check@example.test' } });
		expect(answer.status, answer.text).toBe(200);
		expect(answer.text).not.toContain(SMTP_PASSWORD);
		return answer.body as { id: string; ok: boolean; receipt?: string };
	}

	it('links the test on create when the server, port, account, encryption and password are the tested ones', async () => {
		const integration = await createIntegration();
		const test = await formTest();
		expect(test.ok).toBe(true);
		expect(typeof test.receipt).toBe('string');
		expect(test.receipt).not.toContain(SMTP_PASSWORD);

		const created = await call('POST', '/api/mailboxes', { body: { ...mailboxInput(integration.id, { smtp: smtp() }), smtpTestReceipt: test.receipt } });
		expect(created.status, created.text).toBe(201);
		expect(created.body.lastSmtpTest).toMatchObject({ ok: true, settings: 'form', stage: 'data' });
		expect(created.body).not.toHaveProperty('smtpTestReceipt');
		const list = await call('GET', '/api/mailboxes');
		expect(list.body.items.find((m: { id: string }) => m.id === created.body.id).lastSmtpTest).toMatchObject({ ok: true });
		const history = await call('GET', `/api/mailboxes/${created.body.id}/smtp-tests`);
		expect(history.body.items.map((r: { id: string }) => r.id)).toEqual([test.id]);

		// The same receipt does not move the test to a second mailbox.
		const again = await call('POST', '/api/mailboxes', { body: { ...mailboxInput(integration.id, { smtp: smtp() }), smtpTestReceipt: test.receipt } });
		expect(again.status).toBe(201);
		expect(again.body.lastSmtpTest).toBeNull();
	});

	it('does not link a test of other settings, another password, a failed test or a forged receipt', async () => {
		const integration = await createIntegration();
		const create = async (settings: Record<string, unknown>, receipt: unknown) => {
			const answer = await call('POST', '/api/mailboxes', { body: { ...mailboxInput(integration.id, { smtp: settings }), smtpTestReceipt: receipt } });
			expect(answer.status, answer.text).toBe(201);
			return answer.body;
		};
		const passed = await formTest();
		expect((await create(smtp({ port: ports.loginOnly }), passed.receipt)).lastSmtpTest).toBeNull();
		expect((await create(smtp({ username: 'other@acme.test' }), passed.receipt)).lastSmtpTest).toBeNull();
		expect((await create(smtp({ password: 'another password' }), passed.receipt)).lastSmtpTest).toBeNull();
		// A receipt names its own test: one made for another test's id does not open.
		const other = await formTest();
		const [, seal] = other.receipt!.split(':');
		expect((await create(smtp(), `${passed.id}:${seal}`)).lastSmtpTest).toBeNull();
		expect((await create(smtp(), 'not a receipt')).lastSmtpTest).toBeNull();
		// A failed test has no receipt to keep.
		const failed = await formTest(smtp({ password: 'wrong-password' }));
		expect(failed).toMatchObject({ ok: false });
		expect(failed.receipt).toBeUndefined();
		// And a receipt is a bounded string (422, never a 500).
		const tooLong = await call('POST', '/api/mailboxes', { body: { ...mailboxInput(integration.id, { smtp: smtp() }), smtpTestReceipt: 'x'.repeat(5000) } });
		expect(tooLong.status).toBe(422);
		expect(tooLong.body.error.fields).toHaveProperty('smtpTestReceipt');
		// The untouched passing test still links to a mailbox saved with its settings.
		expect((await create(smtp(), passed.receipt)).lastSmtpTest).toMatchObject({ ok: true });
	});
});
