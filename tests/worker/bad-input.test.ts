/** Hostile and malformed requests: each gets a clear error in the SPEC §7 shape, never a 500. */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../worker/api/http';
import { ORIGIN, TOKEN, call, createIntegration, createMailbox, mailboxInput } from './helpers';

const json = { 'content-type': 'application/json' };

describe('bad input', () => {
	it.each([
		['truncated JSON', '{"name": "Acme"'],
		['a trailing comma', '{"name": "Acme",}'],
		['single quotes', "{'name': 'Acme'}"],
		['an empty body', '']
	])('answers 400 to %s', async (_name, raw) => {
		const answer = await call('POST', '/api/integrations', { raw, headers: json });
		expect(answer.status).toBe(400);
		expect(answer.body.error.code).toBe('invalid_json');
	});

	it('answers 400 to a body that is not UTF-8', async () => {
		const answer = await call('POST', '/api/integrations', { raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), headers: json });
		expect(answer.status).toBe(400);
	});

	it.each([
		['an array', '[]'],
		['a string', '"Acme"'],
		['null', 'null'],
		['a number', '42']
	])('answers 422 to %s', async (_name, raw) => {
		const answer = await call('POST', '/api/mailboxes', { raw, headers: json });
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields._).toBe('Expected a JSON object');
	});

	it('answers 413 to a body over the limit that declares its length', async () => {
		const answer = await call('POST', '/api/integrations', { body: { name: 'x'.repeat(MAX_BODY_BYTES) } });
		expect(answer.status).toBe(413);
		expect(answer.body.error.code).toBe('payload_too_large');
	});

	it('answers 413 to a streamed body over the limit with no length', async () => {
		const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
		let sent = 0;
		const stream = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (sent > MAX_BODY_BYTES * 2) controller.close();
				else {
					controller.enqueue(chunk);
					sent += chunk.byteLength;
				}
			}
		});
		const response = await SELF.fetch(`${ORIGIN}/api/integrations`, {
			method: 'POST',
			headers: { authorization: `Bearer ${TOKEN}`, ...json },
			body: stream
		});
		expect(response.status).toBe(413);
	});

	it('answers 415 to a body that is not declared as JSON', async () => {
		const answer = await call('POST', '/api/integrations', {
			raw: 'name=Acme',
			headers: { 'content-type': 'application/x-www-form-urlencoded' }
		});
		expect(answer.status).toBe(415);
		expect(answer.body.error.code).toBe('unsupported_media_type');
	});

	it('ignores unknown fields consistently: not stored, not echoed', async () => {
		const integration = await createIntegration();
		const input = mailboxInput(integration.id);
		const answer = await call('POST', '/api/mailboxes', {
			body: { ...input, isAdmin: true, version: 99, smtp: { ...input.smtp, hasPassword: false, extra: 1 } }
		});
		expect(answer.status).toBe(201);
		expect(answer.body).not.toHaveProperty('isAdmin');
		expect(answer.body.version).toBe(1);
		expect(answer.body.smtp).not.toHaveProperty('extra');
		expect(answer.body.smtp.hasPassword).toBe(true);
	});

	it('answers 405 with Allow for a method a route does not have', async () => {
		const answer = await call('PUT', '/api/mailboxes', { body: {} });
		expect(answer.status).toBe(405);
		expect(answer.headers.get('allow')).toBe('GET, POST');
	});

	it('answers 404 in the error shape for an unknown API path', async () => {
		const answer = await call('GET', '/api/nothing-here');
		expect(answer.status).toBe(404);
		expect(answer.body.error.code).toBe('not_found');
	});

	it('marks API answers as uncacheable JSON', async () => {
		const answer = await call('GET', '/api/mailboxes');
		expect(answer.headers.get('content-type')).toContain('application/json');
		expect(answer.headers.get('cache-control')).toBe('no-store');
	});

	it('never answers 500 to random payloads on any write route', async () => {
		const mailbox = await createMailbox();
		const values: unknown[] = [null, true, 0, -1, 1e308, '', ' ', 'x'.repeat(2000), [], {}, [1, 2], { a: 1 }, '\u0000', '💥', NaN];
		let seed = 7;
		const pick = () => {
			seed = (seed * 1103515245 + 12345) % 2 ** 31;
			return values[seed % values.length];
		};
		const keys = ['id', 'name', 'description', 'address', 'integrationId', 'version', 'manualForward', 'smtp', '__proto__', 'constructor'];
		const smtpKeys = ['host', 'port', 'username', 'password', 'encryption'];
		const targets: Array<[string, string]> = [
			['POST', '/api/mailboxes'],
			['PATCH', `/api/mailboxes/${mailbox.id}`],
			['POST', '/api/integrations'],
			['PATCH', `/api/integrations/${mailbox.integrationId}`]
		];
		for (let round = 0; round < 60; round++) {
			const body: Record<string, unknown> = {};
			for (const key of keys) if (seed % 3 === 0 || pick() !== null) body[key] = pick();
			body.smtp = Object.fromEntries(smtpKeys.map((key) => [key, pick()]));
			const [method, path] = targets[round % targets.length]!;
			const answer = await call(method, path, { body });
			expect(answer.status, `${method} ${path} ${JSON.stringify(body)} -> ${answer.text}`).toBeLessThan(500);
			expect(answer.body?.error ?? answer.body).toBeDefined();
		}
	});
});
