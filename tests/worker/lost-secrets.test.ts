/**
 * Issue 20: one rule for a sealed value that no longer opens (worker/crypto/sealer.ts): the
 * sealer's `config` outcome with what to enter again, never a 500. Each surface here used to
 * answer it its own way: revealing a webhook secret was a 500, the SMTP test a 503, a webhook
 * attempt its own words, and the OAuth callback a generic provider error. Values are sealed under
 * another SMTP_ENCRYPTION_KEY, as after a key was replaced.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../worker/crypto/sealer';
import { call, createIntegration, mailboxInput } from './helpers';

const receiver = env.WEBHOOK_TEST_ORIGIN;
/** 32 bytes that are not the test key: a value sealed with it does not open here. */
const OTHER_KEY = btoa('another key, not the Worker one!');
const elsewhere = createSealer(OTHER_KEY);

async function integrationWithLostSecret() {
	const integration = await createIntegration();
	const set = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${receiver}/ok/lost-secret` } } });
	expect(set.status, set.text).toBe(200);
	const sealed = await elsewhere.seal('webhook-secret', { integrationId: integration.id }, 'whsec_c2VhbGVkIGVsc2V3aGVyZQ==');
	await env.DB.prepare('UPDATE integrations SET webhook_secret = ?1 WHERE id = ?2').bind(sealed, integration.id).run();
	return integration;
}

describe('a stored secret that no longer opens', () => {
	it('revealing the webhook secret answers 409 with what to do (was a 500)', async () => {
		const integration = await integrationWithLostSecret();
		const answer = await call('GET', `/api/integrations/${integration.id}/webhook-secret`);
		expect(answer.status).toBe(409);
		expect(answer.body.error.code).toBe('secret_unreadable');
		expect(answer.body.error.message).toMatch(/cannot be opened.*SMTP_ENCRYPTION_KEY.*Rotate the integration's webhook secret/);
		// Rotating is the fix: a new secret, shown at once, and revealed again afterwards.
		const rotated = await call('POST', `/api/integrations/${integration.id}/webhook-secret`);
		expect(rotated.status).toBe(200);
		expect((await call('GET', `/api/integrations/${integration.id}/webhook-secret`)).body.secret).toBe(rotated.body.secret);
	});

	it('a webhook attempt fails with the same words (were its own)', async () => {
		const integration = await integrationWithLostSecret();
		const test = await call('POST', `/api/integrations/${integration.id}/webhook-test`);
		expect(test.status).toBe(200);
		expect(test.body.ok).toBe(false);
		expect(test.body.attempt.status).toBeNull();
		expect(test.body.attempt.error).toMatch(/cannot be opened.*SMTP_ENCRYPTION_KEY.*Rotate the integration's webhook secret/);
	});

	it("the SMTP test of a mailbox whose password does not open is a config result, sending nothing (was a 503)", async () => {
		const integration = await createIntegration();
		const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id) });
		expect(created.status, created.text).toBe(201);
		const mailbox = created.body as { id: string; smtp: { host: string; port: number; username: string; encryption: 'starttls' } };
		const sealed = await elsewhere.seal('smtp-password', { mailboxId: mailbox.id, smtp: mailbox.smtp }, 'correct horse battery staple');
		await env.DB.prepare('UPDATE mailboxes SET smtp_password = ?1 WHERE id = ?2').bind(sealed, mailbox.id).run();
		const test = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(test.status).toBe(200);
		expect(test.body).toMatchObject({ ok: false, category: 'config', transcript: [] });
		expect(test.body.hint).toMatch(/cannot be opened.*SMTP_ENCRYPTION_KEY.*Enter the mailbox's SMTP password again and save/);
	});
});
