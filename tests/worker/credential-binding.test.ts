/**
 * A mailbox's stored secret goes only to the server it was entered for (issue 18): the password is
 * bound to host, port, account and encryption (a changed setting needs it again, in the API and
 * in the sealed value itself), an OAuth access token goes only to its provider's own SMTP hosts
 * over TLS, and no stored secret travels unencrypted except to loopback on a local setup. Real
 * smtp-server peers on loopback (tests/worker/smtp-servers.ts); `recordsAuth` records every AUTH
 * it is offered, standing for "another server".
 */
import { SELF, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { PASSWORD_AGAIN_MESSAGE } from '../../src/lib/schema/mailbox';
import { decryptSecret, encryptSecret } from '../../worker/crypto/secret-box';
import { findMailbox } from '../../worker/db/mailboxes';
import { readConfig } from '../../worker/config';
import type { SealSubject } from '../../worker/crypto/sealer';
import { smtpLoginFor } from '../../worker/send/credentials';
import { call, createIntegration, expectSecretsNeverLogged, fetchWithEnv, mailboxInput, TOKEN, unique } from './helpers';
import { servicesFrom } from '../../worker/services';

vi.setConfig({ testTimeout: 30_000 });

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const USER = 'support@acme.test';
const PASSWORD = 'Corr3ct-h0rse-battery';

/** Opens a stored password as the Worker does (the sealer's `smtp-password` purpose, issue 18's binding). */
const openPassword = (sealed: string, mailboxId: string, smtp: SealSubject<'smtp-password'>['smtp']) =>
	readConfig(env).sealer.open('smtp-password', { mailboxId, smtp }, sealed);
expectSecretsNeverLogged([PASSWORD, btoa(`\u0000${USER}\u0000${PASSWORD}`)]);

interface SeenAuth {
	server: string;
	method: string;
	username: string;
	secret: string;
}
const auths = async (): Promise<SeenAuth[]> => (await fetch(`http://127.0.0.1:${ports.control}/auths`)).json();
const received = async (): Promise<Array<{ server: string; to: string[] }>> => (await fetch(`http://127.0.0.1:${ports.control}/received`)).json();

async function saved(smtp: Record<string, unknown>) {
	const integration = await createIntegration();
	const answer = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { smtp }) });
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string; version: number };
}

const storedPassword = async (id: string) =>
	(await env.DB.prepare('SELECT smtp_password FROM mailboxes WHERE id = ?1').bind(id).first<{ smtp_password: string }>())!.smtp_password;

describe('a stored password is only sent to the server it was entered for', () => {
	it('a test of unsaved settings on another server, account or encryption needs the password again (422), and that server sees no AUTH', async () => {
		// A password only this mailbox has, so any AUTH carrying it is this test's leak.
		const secret = `${PASSWORD}-${unique('p')}`;
		const base = { host: '127.0.0.1', port: ports.plain, username: USER, encryption: 'none' };
		const mailbox = await saved({ ...base, password: secret });
		const changes: Array<Record<string, unknown>> = [
			{ port: ports.recordsAuth },
			{ host: 'localhost', port: ports.recordsAuth },
			{ username: 'someone-else@acme.test' },
			{ encryption: 'starttls' }
		];
		for (const change of changes) {
			const answer = await call('POST', '/api/smtp-test', {
				body: { smtp: { ...base, ...change, password: '' }, to: 'binding@example.test', mailboxId: mailbox.id }
			});
			expect(answer.status, JSON.stringify(change)).toBe(422);
			expect(answer.body.error.fields['smtp.password']).toBe(PASSWORD_AGAIN_MESSAGE);
		}
		expect((await auths()).filter((auth) => auth.secret === secret)).toEqual([]);

		// The saved server itself, unchanged, still tests with the stored password.
		const same = await call('POST', '/api/smtp-test', { body: { smtp: { ...base, password: '' }, to: 'binding-same@example.test', mailboxId: mailbox.id } });
		expect(same.status, same.text).toBe(200);
		expect(same.body).toMatchObject({ ok: false, stage: 'auth', category: 'auth' }); // `plain` knows only PASSWORD, not this one.
		// And a typed password may go anywhere the admin tests (it is theirs to give).
		const typed = await call('POST', '/api/smtp-test', {
			body: { smtp: { ...base, port: ports.recordsAuth, password: 'typed-into-the-form' }, to: 'binding-typed@example.test', mailboxId: mailbox.id }
		});
		expect(typed.body).toMatchObject({ ok: true });
		expect((await auths()).some((auth) => auth.secret === 'typed-into-the-form')).toBe(true);
	});

	it('PATCH: changing host, port, account or encryption without the password is 422 on smtp.password; with it, or a name change, is fine', async () => {
		const mailbox = await saved({});
		const sealed = await storedPassword(mailbox.id);
		for (const smtp of [{ host: 'smtp.elsewhere.example' }, { port: 2525 }, { username: 'other@acme.example.com' }, { encryption: 'tls' }, { host: 'smtp.elsewhere.example', password: '' }]) {
			const answer = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: mailbox.version, smtp } });
			expect(answer.status, JSON.stringify(smtp)).toBe(422);
			expect(answer.body.error.fields).toEqual({ 'smtp.password': PASSWORD_AGAIN_MESSAGE });
		}
		expect(await storedPassword(mailbox.id)).toBe(sealed);

		// The same values again (a form that sends everything) and a name change keep the password.
		const same = await call('PATCH', `/api/mailboxes/${mailbox.id}`, {
			body: { version: mailbox.version, name: 'Renamed', smtp: { host: 'SMTP.acme.example.com', port: 587, username: 'support@acme.example.com', encryption: 'starttls' } }
		});
		expect(same.status, same.text).toBe(200);
		expect(same.body.smtp.hasPassword).toBe(true);
		expect(await storedPassword(mailbox.id)).toBe(sealed);

		const moved = await call('PATCH', `/api/mailboxes/${mailbox.id}`, {
			body: { version: same.body.version, smtp: { host: 'smtp.elsewhere.example', port: 465, encryption: 'tls', password: 'the new server’s password' } }
		});
		expect(moved.status, moved.text).toBe(200);
		expect(moved.body.smtp).toMatchObject({ host: 'smtp.elsewhere.example', port: 465, encryption: 'tls', hasPassword: true });
		const stored = (await findMailbox(env.DB, mailbox.id))!;
		expect(await openPassword(stored.sealedPassword, mailbox.id, stored.smtp)).toEqual({ ok: true, value: 'the new server’s password' });
	});

	it('the sealed password is bound to its server: a row whose host or port was changed in the database does not send it', async () => {
		const secret = `${PASSWORD}-${unique('db')}`;
		const mailbox = await saved({ host: '127.0.0.1', port: ports.plain, username: USER, encryption: 'none', password: secret });
		const row = await storedPassword(mailbox.id);
		await expect(decryptSecret({ sealed: row, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}` })).rejects.toThrow();
		// Someone with write access to D1 (not to the Worker's key) points the mailbox elsewhere.
		await env.DB.prepare('UPDATE mailboxes SET smtp_port = ?1 WHERE id = ?2').bind(ports.recordsAuth, mailbox.id).run();
		const test = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		// Issue 20: the sealer's one rule, a `config` result saying what to enter again (was a 503).
		expect(test.status).toBe(200);
		expect(test.body).toMatchObject({ ok: false, category: 'config' });
		expect(test.body.hint).toMatch(/Enter the mailbox's SMTP password again/);
		expect((await auths()).filter((auth) => auth.secret === secret)).toEqual([]);
	});

	it('a password sealed before the binding still works on its unchanged server, and is sealed again with the binding on first use', async () => {
		const mailbox = await saved({ host: '127.0.0.1', port: ports.plain, username: USER, encryption: 'none', password: PASSWORD });
		const legacy = await encryptSecret({ plain: PASSWORD, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}` });
		await env.DB.prepare('UPDATE mailboxes SET smtp_password = ?1 WHERE id = ?2').bind(legacy, mailbox.id).run();
		const test = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(test.body).toMatchObject({ ok: true, settings: 'saved' });
		const resealed = await storedPassword(mailbox.id);
		expect(resealed).not.toBe(legacy);
		const stored = (await findMailbox(env.DB, mailbox.id))!;
		expect(await openPassword(resealed, mailbox.id, stored.smtp)).toEqual({ ok: true, value: PASSWORD });
	});
});

describe('OAuth access tokens go only to the provider’s own SMTP hosts, over TLS', () => {
	async function connectedMailbox(provider: 'microsoft' | 'google' = 'microsoft') {
		const integration = await createIntegration();
		const account = `${unique('desk')}@acme.test`;
		const smtp = { host: '127.0.0.1', port: ports.xoauth2, username: account, encryption: 'none', auth: 'oauth2', oauth: { provider } };
		const created = await call('POST', '/api/mailboxes', { body: { ...mailboxInput(integration.id), smtp } });
		expect(created.status, created.text).toBe(201);
		const started = await call<{ authorizationUrl: string }>('POST', `/api/mailboxes/${created.body.id}/oauth/start`, { body: { provider } });
		expect(started.status, started.text).toBe(200);
		const consent = await fetch(started.body.authorizationUrl, { redirect: 'manual' });
		const back = await SELF.fetch(consent.headers.get('location')!, { redirect: 'manual' });
		expect(back.headers.get('location')).toContain('oauth=connected');
		return (await findMailbox(env.DB, created.body.id))!;
	}

	it('hands out the token for the provider’s hosts with STARTTLS or SSL/TLS, and for loopback on a local setup', async () => {
		const mailbox = await connectedMailbox();
		for (const server of [
			{ host: 'smtp.office365.com', port: 587, encryption: 'starttls' as const },
			{ host: 'SMTP-Mail.Outlook.com', port: 587, encryption: 'starttls' as const },
			{ host: 'smtp.office365.us', port: 587, encryption: 'starttls' as const }
		]) {
			const login = await smtpLoginFor(servicesFrom(env), { ...mailbox, smtp: { ...mailbox.smtp, ...server } });
			expect(login.ok, server.host).toBe(true);
		}
		expect((await smtpLoginFor(servicesFrom(env), mailbox)).ok).toBe(true); // 127.0.0.1 with ALLOW_PRIVATE_SMTP_HOSTS=true
	});

	it('refuses, as config and before any token is made, another host, the other provider’s host, no encryption, or loopback in production', async () => {
		const mailbox = await connectedMailbox();
		const cases: Array<[Partial<typeof mailbox.smtp>, Partial<Env>]> = [
			[{ host: 'smtp.evil.example', port: 587, encryption: 'starttls' }, {}],
			[{ host: 'smtp.office365.com.evil.example', port: 587, encryption: 'starttls' }, {}],
			[{ host: 'smtp.gmail.com', port: 465, encryption: 'tls' }, {}],
			[{ host: 'smtp.office365.com', port: 587, encryption: 'none' }, {}],
			[{}, { ALLOW_PRIVATE_SMTP_HOSTS: 'false' }]
		];
		for (const [smtp, overrides] of cases) {
			const login = await smtpLoginFor(servicesFrom({ ...env, ...overrides } as Env), { ...mailbox, smtp: { ...mailbox.smtp, ...smtp } });
			expect(login.ok, JSON.stringify(smtp)).toBe(false);
			if (!login.ok) {
				expect(login.failure).toMatchObject({ stage: 'connect', category: 'config', temporary: false });
				expect(login.failure.hint).toMatch(/smtp\.office365\.com/);
			}
		}
	});

	it('the saved-settings test and a form test refuse a server that is not the provider’s: recordsAuth, reachable, sees no token until it is allowed', async () => {
		const mailbox = await connectedMailbox('google');
		const account = mailbox.smtp.username;
		// recordsAuth records every AUTH it is offered, XOAUTH2 included (its positive control is the last step).
		const tokensAtRecordsAuth = async () => (await auths()).filter((auth) => auth.method === 'XOAUTH2' && auth.username === account);
		const recordsAuth = { host: '127.0.0.1', port: ports.recordsAuth, encryption: 'none' };
		// In production loopback is not Google's server: the one check (send/credentials.ts storedSecretProblem)
		// refuses it before any token is made, naming Google's server; the private-host check alone would not.
		const production = (path: string, body: unknown) =>
			fetchWithEnv(
				new Request(`https://mailgate.test${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
				{ ALLOW_PRIVATE_SMTP_HOSTS: 'false' }
			);

		const draft = await production('/api/smtp-test', {
			smtp: { ...recordsAuth, username: account, auth: 'oauth2', oauth: { provider: 'google' } },
			to: 'x@example.test',
			mailboxId: mailbox.id
		});
		expect(draft.status).toBe(422);
		expect(((await draft.json()) as { error: { fields: Record<string, string> } }).error.fields['smtp.host']).toMatch(/smtp\.gmail\.com/);

		const patched = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: mailbox.version, smtp: recordsAuth } });
		expect(patched.status, patched.text).toBe(200);
		const saved = (await (await production(`/api/mailboxes/${mailbox.id}/smtp-test`, {})).json()) as { hint: string };
		expect(saved).toMatchObject({ ok: false, stage: 'connect', category: 'config', transcript: [] });
		expect(saved.hint).toMatch(/smtp\.gmail\.com/);
		expect(await tokensAtRecordsAuth()).toEqual([]);

		// Where loopback is allowed (a local setup), the same test does offer the token to recordsAuth:
		// so the empty list above is what recordsAuth saw, not a recorder that cannot see XOAUTH2.
		await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(await tokensAtRecordsAuth()).toHaveLength(1);
	});
});

describe('no stored secret over an unencrypted connection, except to loopback on a local setup', () => {
	it('a saved mailbox with Encryption None on a public host is refused as config, before connecting', async () => {
		const mailbox = await saved({ host: 'smtp.acme.example.com', port: 587, encryption: 'none' });
		const test = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(test.body).toMatchObject({ ok: false, stage: 'connect', category: 'config', transcript: [] });
		expect(test.body.hint).toMatch(/STARTTLS or SSL\/TLS/);
		const login = await smtpLoginFor(servicesFrom(env), (await findMailbox(env.DB, mailbox.id))!);
		expect(login.ok).toBe(false);
	});

	it('loopback with Encryption None is fine only while ALLOW_PRIVATE_SMTP_HOSTS is true', async () => {
		const mailbox = await saved({ host: '127.0.0.1', port: ports.plain, username: USER, encryption: 'none', password: PASSWORD });
		const stored = (await findMailbox(env.DB, mailbox.id))!;
		expect((await smtpLoginFor(servicesFrom(env), stored)).ok).toBe(true);
		const production = await smtpLoginFor(servicesFrom({ ...env, ALLOW_PRIVATE_SMTP_HOSTS: 'false' } as Env), stored);
		expect(production.ok).toBe(false);
		if (!production.ok) expect(production.failure.category).toBe('config');
	});
});

describe('private hosts in every spelling (ALLOW_PRIVATE_SMTP_HOSTS=false)', () => {
	const spellings = ['127.1', '0x7f.1', '0177.0.0.1', '127.000.000.001', '2130706433', '::ffff:7f00:1', '[::ffff:127.0.0.1]', '0:0:0:0:0:0:0:1', '[::1]', 'LOCALHOST'];
	it.each(spellings)('%s is refused as config and nothing is sent', async (host) => {
		const to = `${unique('private')}@example.test`;
		const request = new Request('https://mailgate.test/api/smtp-test', {
			method: 'POST',
			headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
			body: JSON.stringify({ smtp: { host, port: ports.plain, username: USER, password: PASSWORD, encryption: 'none' }, to })
		});
		const response = await fetchWithEnv(request, { ALLOW_PRIVATE_SMTP_HOSTS: 'false' });
		const result = (await response.json()) as { category: string; hint: string; transcript: string[] };
		expect(result.category, JSON.stringify(result)).toBe('config');
		expect(result.hint).toMatch(/private, loopback or local/);
		expect(result.transcript).toEqual([]);
		expect((await received()).filter((message) => message.to.includes(to))).toEqual([]);
	});
});
