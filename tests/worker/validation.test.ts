/**
 * Every SPEC §3 rule, through the real API: each case is a create that must be refused with
 * a field error on the right path, and a control case proves the same payload otherwise passes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PORT_25_MESSAGE } from '../../src/lib/schema/mailbox';
import { call, createIntegration, mailboxInput } from './helpers';

let integrationId: string;
beforeAll(async () => {
	integrationId = (await createIntegration()).id;
});

const refused: Array<[string, Record<string, unknown>, string, RegExp | string]> = [
	['no integration', { integrationId: '' }, 'integrationId', 'Choose a channel integration'],
	['missing name', { name: undefined }, 'name', 'Enter the mailbox name'],
	['blank name', { name: '   ' }, 'name', 'Enter the mailbox name'],
	['name of 101 chars', { name: 'n'.repeat(101) }, 'name', 'at most 100 characters'],
	['name not text', { name: 42 }, 'name', 'must be text'],
	// Issue 18: the name is the From's display name of every reply, test and probe.
	['name with a line break', { name: 'Support\r\nBcc: attacker@evil.example' }, 'name', 'one line'],
	['name with NUL', { name: 'Support\u0000' }, 'name', 'one line'],
	['account with a line break', { smtp: { username: 'help@acme.com\r\nQUIT' } }, 'smtp.username', 'one line'],
	['description of 501 chars', { description: 'd'.repeat(501) }, 'description', 'at most 500 characters'],
	['missing address', { address: undefined }, 'address', 'Enter the service email address'],
	['plus alias', { address: 'support+eu@acme.com' }, 'address', /^Aliases are not supported/],
	['display-name form', { address: 'Acme Support <support@acme.com>' }, 'address', /^Aliases are not supported/],
	['quoted display name', { address: '"Support" support@acme.com' }, 'address', /^Aliases are not supported/],
	['list with comma', { address: 'a@acme.com, b@acme.com' }, 'address', /^Aliases are not supported/],
	['list with semicolon', { address: 'a@acme.com;b@acme.com' }, 'address', /^Aliases are not supported/],
	['list with spaces', { address: 'a@acme.com b@acme.com' }, 'address', /^Aliases are not supported/],
	['no at sign', { address: 'support.acme.com' }, 'address', 'Enter a valid email address'],
	['two at signs', { address: 'sup@port@acme.com' }, 'address', 'Enter a valid email address'],
	['domain without dot', { address: 'support@localhost' }, 'address', 'Enter a valid email address'],
	['double dot', { address: 'sup..port@acme.com' }, 'address', 'Enter a valid email address'],
	['space inside', { address: 'sup port@acme.com' }, 'address', 'cannot contain spaces'],
	['control character', { address: 'support\u0000@acme.com' }, 'address', 'control characters'],
	['local part of 65', { address: `${'a'.repeat(65)}@acme.com` }, 'address', 'at most 64'],
	['missing host', { smtp: { host: undefined } }, 'smtp.host', 'Enter the SMTP server address'],
	['host with scheme', { smtp: { host: 'smtp://mail.acme.com' } }, 'smtp.host', 'without “smtp://”'],
	['host with https', { smtp: { host: 'https://mail.acme.com' } }, 'smtp.host', 'without “https://”'],
	['host with path', { smtp: { host: 'mail.acme.com/smtp' } }, 'smtp.host', 'without a path'],
	['host with space', { smtp: { host: 'mail acme.com' } }, 'smtp.host', 'cannot contain spaces'],
	['host with tab', { smtp: { host: 'mail.acme.com\t' + 'x' } }, 'smtp.host', 'control characters'],
	['host with newline', { smtp: { host: 'mail.acme.com\r\nRCPT TO:<x@y>' } }, 'smtp.host', 'control characters'],
	['host with port', { smtp: { host: 'mail.acme.com:587' } }, 'smtp.host', 'Port field'],
	['host with bad label', { smtp: { host: 'mail_server.acme.com' } }, 'smtp.host', 'host name like'],
	['missing port', { smtp: { port: undefined } }, 'smtp.port', 'Enter the port'],
	['port 0', { smtp: { port: 0 } }, 'smtp.port', '1 to 65535'],
	['port 65536', { smtp: { port: 65536 } }, 'smtp.port', '1 to 65535'],
	['fractional port', { smtp: { port: 587.5 } }, 'smtp.port', '1 to 65535'],
	['port as text', { smtp: { port: '587' } }, 'smtp.port', '1 to 65535'],
	['port 25', { smtp: { port: 25 } }, 'smtp.port', PORT_25_MESSAGE],
	['missing account', { smtp: { username: '' } }, 'smtp.username', 'Enter the SMTP account'],
	['missing password on create', { smtp: { password: '' } }, 'smtp.password', 'Enter the SMTP password'],
	['password over 1024', { smtp: { password: 'p'.repeat(1025) } }, 'smtp.password', 'at most 1024'],
	['unknown encryption', { smtp: { encryption: 'ssl' } }, 'smtp.encryption', 'Choose SSL/TLS, STARTTLS or None'],
	['unknown manual-forward policy', { manualForward: 'maybe' }, 'manualForward', 'Choose reject or accept'],
	['integration that does not exist', { integrationId: 'no-such-integration' }, 'integrationId', 'does not exist']
];

describe('mailbox validation (SPEC §3)', () => {
	it('accepts the base payload the cases vary', async () => {
		const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId) });
		expect(answer.status).toBe(201);
	});

	it.each(refused)('refuses %s', async (_name, overrides, path, message) => {
		const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId, overrides) });
		expect(answer.status).toBe(422);
		expect(answer.body.error.code).toBe('validation_failed');
		const fieldMessage = answer.body.error.fields[path];
		expect(fieldMessage, JSON.stringify(answer.body.error.fields)).toBeTypeOf('string');
		if (typeof message === 'string') expect(fieldMessage).toContain(message);
		else expect(fieldMessage).toMatch(message);
	});

	it('says port 25 is blocked in the words of the spec', async () => {
		const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId, { smtp: { port: 25 } }) });
		expect(answer.body.error.fields['smtp.port']).toBe(
			'port 25 is blocked for security reasons; use 587 with STARTTLS or 465 with SSL/TLS'
		);
	});

	it('reports every bad field at once', async () => {
		const answer = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integrationId, { name: '', address: 'x+y@acme.com', smtp: { port: 25, host: 'a b' } })
		});
		expect(Object.keys(answer.body.error.fields).sort()).toEqual(['address', 'name', 'smtp.host', 'smtp.port']);
	});

	it.each([
		['an IPv4 literal', '192.0.2.10'],
		['an IPv6 literal', '2001:db8::25'],
		['a bracketed IPv6 literal', '[2001:db8::1]'],
		['a single-label host', 'localhost'],
		['a host name with hyphens', 'smtp-relay.eu-1.acme.example']
	])('accepts %s as server address', async (_name, host) => {
		const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId, { smtp: { host } }) });
		expect(answer.status, answer.text).toBe(201);
		expect(answer.body.smtp.host).toBe(host);
	});

	it.each(['tls', 'starttls', 'none'])('accepts encryption %s', async (encryption) => {
		const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId, { smtp: { encryption } }) });
		expect(answer.status).toBe(201);
		expect(answer.body.smtp.encryption).toBe(encryption);
	});

	it('trims text fields and keeps 100 and 500 characters', async () => {
		const answer = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integrationId, { name: `  ${'n'.repeat(100)}  `, description: 'd'.repeat(500) })
		});
		expect(answer.status).toBe(201);
		expect(answer.body.name).toBe('n'.repeat(100));
		expect(answer.body.description).toHaveLength(500);
	});

	it('validates updates with the same rules', async () => {
		const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integrationId) });
		const answer = await call('PATCH', `/api/mailboxes/${created.body.id}`, {
			body: { version: 1, smtp: { port: 25 }, address: 'support+x@acme.com' }
		});
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields['smtp.port']).toContain('port 25 is blocked');
		expect(answer.body.error.fields.address).toMatch(/^Aliases are not supported/);
	});
});

describe('integration validation', () => {
	it.each([
		['missing name', {}, 'Enter the integration name'],
		['blank name', { name: '  ' }, 'Enter the integration name'],
		['name of 101 chars', { name: 'i'.repeat(101) }, 'at most 100 characters']
	])('refuses %s', async (_name, body, message) => {
		const answer = await call('POST', '/api/integrations', { body });
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields.name).toContain(message);
	});
});
