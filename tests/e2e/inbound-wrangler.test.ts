/**
 * The inbound path as deployed: wrangler's own bundle (with the wrangler.toml aliases that let
 * mailauth load in workerd) receiving mail through `wrangler dev`'s email endpoint.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { baseUrl, callApi, seedIntegration, uniqueAddress } from './helpers';

function raw(to: string, id: string) {
	return (
		`Received: from mail.servfail.sender.example (mail.servfail.sender.example [192.0.2.25]) by mx.cloudflare.net; Tue, 24 Nov 2026 09:00:01 +0000\r\n` +
		`From: Customer <customer@servfail.sender.example>\r\nTo: ${to}\r\nSubject: Order 1234\r\nMessage-ID: <${id}>\r\n` +
		`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWhere is my order?\r\n`
	);
}

async function deliver(to: string, id: string) {
	const url = `${baseUrl}/cdn-cgi/handler/email?from=${encodeURIComponent('customer@servfail.sender.example')}&to=${encodeURIComponent(to)}`;
	return fetch(url, { method: 'POST', body: raw(to, id) });
}

describe('email() under wrangler dev', () => {
	it('refuses a recipient that is not a service address, and logs why', async () => {
		const id = `${randomUUID()}@servfail.sender.example`;
		const response = await deliver(uniqueAddress('nobody'), id);
		expect(response.status).toBe(400);
		expect(await response.text()).toMatch(/rejected/i);
		const log = await callApi('GET', `/api/messages?messageId=${encodeURIComponent(id)}`);
		expect(log.body.items[0]).toMatchObject({ verdict: 'rejected', mailboxId: null });
		expect(log.body.items[0].reason).toMatch(/not a service address/);
	});

	it('accepts mail for a service address; a DNS failure (SERVFAIL) is temperror, never pass', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('inbound');
		const created = await callApi('POST', '/api/mailboxes', {
			integrationId: integration.id,
			name: 'Inbound',
			address,
			smtp: { host: 'smtp.acme.example', port: 587, username: address, password: 'x-password', encryption: 'starttls' }
		});
		expect(created.status).toBe(201);
		const id = `${randomUUID()}@servfail.sender.example`;
		const response = await deliver(address, id);
		expect(response.status, await response.clone().text()).toBe(200);
		const log = await callApi('GET', `/api/messages?messageId=${encodeURIComponent(`<${id}>`)}`);
		expect(log.body.items[0]).toMatchObject({ verdict: 'accepted', mailboxId: created.body.id, auth: { spf: 'temperror' } });
		const detail = await callApi('GET', `/api/messages/${log.body.items[0].id}`);
		expect(detail.body.text).toContain('Where is my order?');
		expect(detail.body.authDetails.spf.clientIp).toBe('192.0.2.25');
	});
});
