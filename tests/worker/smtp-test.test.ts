/**
 * The SMTP sending test against real smtp-server instances on loopback (tests/worker/smtp-servers.ts),
 * through the real API inside workerd: one server per case, each asserting category, stage, the
 * server's words, and that the password appears nowhere in the result or the logs.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { PORT_25_MESSAGE } from '../../src/lib/schema/mailbox';
import { TOTAL_BUDGET_MS } from '../../worker/send/timeouts';
import { runSmtpTest } from '../../worker/send/run-smtp-test';
import { smtpTransport } from '../../worker/send/smtp-transport';
import { INTERACTIVE_TIMEOUTS } from '../../worker/send/timeouts';
import { classify, parseReply, type Situation } from '../../worker/smtp/classify';
import { explainAccess, typedPasswordLogin } from '../../worker/send/credentials';
import { call, createIntegration, expectSecretsNeverLogged, fetchWithEnv, mailboxInput, TOKEN } from './helpers';

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const USER = 'support@acme.test';
const PASSWORD = 'Corr3ct-h0rse-battery';
const secrets = [PASSWORD, btoa(PASSWORD), btoa(`\u0000${USER}\u0000${PASSWORD}`)];

expectSecretsNeverLogged(secrets);

function smtp(server: string, overrides: Record<string, unknown> = {}) {
	return { host: '127.0.0.1', port: ports[server], username: USER, password: PASSWORD, encryption: 'none', ...overrides };
}

async function test(server: string, overrides: Record<string, unknown> = {}, to = 'customer@example.test') {
	const answer = await call('POST', '/api/smtp-test', { body: { smtp: smtp(server, overrides), to } });
	expect(answer.status, answer.text).toBe(200);
	for (const secret of secrets) expect(answer.text).not.toContain(secret);
	return answer.body;
}

async function received(): Promise<Array<{ server: string; from: string; to: string[]; data: string }>> {
	return (await fetch(`http://127.0.0.1:${ports.control}/received`)).json();
}

describe('SMTP sending test (SPEC §4)', () => {
	it('succeeds end to end, timing every stage, and the message arrives', async () => {
		const result = await test('plain', {}, 'ok-check@example.test');
		expect(result).toMatchObject({ ok: true, stage: 'data', category: null, settings: 'form', to: 'ok-check@example.test' });
		expect(result.steps.map((s: { stage: string }) => s.stage)).toEqual(['connect', 'greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data']);
		expect(result.steps.every((s: { ok: boolean; durationMs: number }) => s.ok && s.durationMs >= 0)).toBe(true);
		expect(result.transcript).toContain('C: AUTH PLAIN [redacted]');
		expect(result.transcript.some((line: string) => /^S: 235/.test(line))).toBe(true);
		const message = (await received()).find((m) => m.to.includes('ok-check@example.test'));
		expect(message?.server).toBe('plain');
		expect(message?.data).toContain('Subject: Mailgate SMTP test');
	});

	it('redacts both lines of an AUTH LOGIN exchange and the server’s challenges', async () => {
		const result = await test('loginOnly');
		expect(result.ok).toBe(true);
		const auth = result.transcript.slice(result.transcript.indexOf('C: AUTH LOGIN'));
		expect(auth.slice(0, 5)).toEqual(['C: AUTH LOGIN', 'S: 334 [redacted]', 'C: [redacted]', 'S: 334 [redacted]', 'C: [redacted]']);
		expect(JSON.stringify(result)).not.toContain(btoa(USER));
	});

	it('reports a wrong password as auth, with the server’s words verbatim', async () => {
		const result = await test('plain', { password: 'wrong-password' });
		expect(result).toMatchObject({ ok: false, stage: 'auth', category: 'auth', code: 535, enhancedCode: '5.7.8' });
		expect(result.serverMessage).toContain('Username and Password not accepted');
		expect(result.hint).toMatch(/account or password/);
		expect(JSON.stringify(result)).not.toContain('wrong-password');
	});

	it('explains Microsoft 365’s “basic authentication disabled” refusal with the Sign in with Microsoft 365 option', async () => {
		const result = await test('oauth');
		expect(result).toMatchObject({ ok: false, stage: 'auth', category: 'auth', code: 535, enhancedCode: '5.7.139' });
		expect(result.serverMessage).toContain('basic authentication is disabled');
		expect(result.hint).toMatch(/press Sign in with Microsoft \(OAuth\)/);
	});

	it('says so when the server demands STARTTLS and Encryption is None', async () => {
		const result = await test('starttlsRequired');
		expect(result).toMatchObject({ ok: false, stage: 'auth', category: 'tls', code: 538 });
		expect(result.serverMessage).toContain('Must issue a STARTTLS command first');
		expect(result.hint).toMatch(/Set Encryption to STARTTLS/);
	});

	it('reports STARTTLS with an untrusted certificate as tls at the tls stage', async () => {
		const result = await test('starttlsSelfSigned', { encryption: 'starttls' });
		expect(result).toMatchObject({ ok: false, stage: 'tls', category: 'tls' });
		expect(result.hint).toMatch(/certificate is valid/);
		expect(result.transcript).toContain('C: STARTTLS');
	});

	it('reports implicit TLS with an untrusted certificate as tls, not as a closed port', async () => {
		const result = await test('implicitSelfSigned', { encryption: 'tls' });
		expect(result).toMatchObject({ ok: false, stage: 'tls', category: 'tls' });
		expect(result.hint).toMatch(/certificate is valid/);
	});

	it('tells SSL/TLS on a plain-text port apart, and points at the port pairing', async () => {
		const result = await test('plain', { encryption: 'tls' });
		expect(result).toMatchObject({ ok: false, stage: 'tls', category: 'tls' });
		expect(result.hint).toMatch(/answered without SSL\/TLS/);
		expect(result.hint).toMatch(/465/);
	});

	it('reports a refused recipient as rejected at rcpt', async () => {
		const result = await test('rcptRefused', {}, 'nobody@example.test');
		expect(result).toMatchObject({ ok: false, stage: 'rcpt', category: 'rejected', code: 550, enhancedCode: '5.1.1' });
		expect(result.serverMessage).toContain('Recipient address rejected');
		expect(result.hint).toMatch(/does not exist/);
		expect(result.steps.map((s: { stage: string; ok: boolean }) => `${s.stage}:${s.ok}`)).toEqual([
			'connect:true', 'greeting:true', 'ehlo:true', 'auth:true', 'mail:true', 'rcpt:false'
		]);
	});

	it('reports a closed port as connection, for plain and SSL/TLS alike', async () => {
		for (const encryption of ['none', 'tls']) {
			const result = await test('closed', { encryption });
			expect(result).toMatchObject({ ok: false, stage: 'connect', category: 'connection' });
			expect(result.hint).toMatch(/server address and port/);
		}
	});

	it('describes a local failure as ours, never as the server’s words (issue 19)', async () => {
		// A closed port: nothing answered, so nothing is "what the server said".
		for (const encryption of ['none', 'tls', 'starttls']) {
			const result = await test('closed', { encryption });
			expect(result).toMatchObject({ ok: false, stage: 'connect', category: 'connection' });
			expect(result.serverMessage, encryption).toBeUndefined();
			expect(result.code).toBeUndefined();
			expect(result.hint).toContain(`Could not connect to 127.0.0.1:${ports.closed}: connection refused`);
			expect(result.hint).not.toMatch(/proxy request|internal error|network connection lost/i);
		}
		// A peer that hangs up after the message without a reply: no reason from it to point at.
		const dropped = await test('dropAfterData', {}, 'dropped-check@example.test');
		expect(dropped).toMatchObject({ ok: false, stage: 'data' });
		expect(dropped.serverMessage).toBeUndefined();
		expect(dropped.code).toBeUndefined();
		expect(dropped.hint).toMatch(/closed the connection without (a reply|answering)/);
		expect(dropped.hint).not.toMatch(/reason below|proxy request|network connection lost/i);
		// A failed TLS handshake: the runtime's words are ours too.
		for (const [server, encryption] of [['starttlsSelfSigned', 'starttls'], ['implicitSelfSigned', 'tls']] as const) {
			const result = await test(server, { encryption });
			expect(result).toMatchObject({ ok: false, stage: 'tls', category: 'tls' });
			expect(result.serverMessage, server).toBeUndefined();
		}
	});

	it('reports a server that never greets as timeout within 15 seconds', async () => {
		const started = Date.now();
		const result = await test('silent');
		expect(Date.now() - started).toBeLessThan(15_000);
		expect(result.durationMs).toBeLessThanOrEqual(TOTAL_BUDGET_MS + 500);
		expect(result).toMatchObject({ ok: false, stage: 'greeting', category: 'timeout' });
	}, 20_000);

	it('reports a 421 greeting as rejected (busy), with the server’s words', async () => {
		const result = await test('busy');
		expect(result).toMatchObject({ ok: false, stage: 'greeting', category: 'rejected', code: 421, enhancedCode: '4.3.2' });
		expect(result.serverMessage).toContain('too many connections');
		expect(result.hint).toMatch(/busy/);
	});

	it('refuses port 25 before connecting', async () => {
		const answer = await call('POST', '/api/smtp-test', { body: { smtp: smtp('plain', { port: 25 }), to: 'a@example.test' } });
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields['smtp.port']).toBe(PORT_25_MESSAGE);
		// The runner refuses it too, as config, without opening a session.
		let opened = false;
		const result = await runSmtpTest({
			login: async () => typedPasswordLogin({ host: '127.0.0.1', port: 25, username: USER, encryption: 'starttls' }, PASSWORD),
			from: { email: USER },
			to: 'a@example.test',
			allowPrivateHosts: true,
			transport: smtpTransport({
				timeouts: INTERACTIVE_TIMEOUTS,
				allowPrivateHosts: true,
				openSession: () => {
					opened = true;
					throw new Error('must not connect');
				}
			})
		});
		expect(opened).toBe(false);
		expect(result).toMatchObject({ ok: false, stage: 'connect', category: 'config', steps: [], transcript: [] });
		expect(result.hint).toContain(PORT_25_MESSAGE);
	});

	it('refuses private and loopback targets unless ALLOW_PRIVATE_SMTP_HOSTS is true', async () => {
		for (const host of ['127.0.0.1', '10.0.0.5', '192.168.1.10', 'localhost', 'mail.internal', '[::1]']) {
			const request = new Request('https://mailgate.test/api/smtp-test', {
				method: 'POST',
				headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
				body: JSON.stringify({ smtp: smtp('plain', { host }), to: 'a@example.test' })
			});
			const response = await fetchWithEnv(request, { ALLOW_PRIVATE_SMTP_HOSTS: 'false' });
			const result = (await response.json()) as { category: string; hint: string };
			expect(result.category, host).toBe('config');
			expect(result.hint).toMatch(/private, loopback or local/);
		}
	});
});

describe('saved settings, history and safety', () => {
	async function savedMailbox(server = 'plain') {
		const integration = await createIntegration();
		const input = mailboxInput(integration.id, { smtp: smtp(server) });
		const created = await call('POST', '/api/mailboxes', { body: input });
		expect(created.status, created.text).toBe(201);
		return created.body;
	}

	it('tests the saved settings with the stored password, keeps the history and shows the latest', async () => {
		const mailbox = await savedMailbox('rcptRefused');
		const ok = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(ok.body).toMatchObject({ ok: true, mailboxId: mailbox.id, settings: 'saved', to: mailbox.address });
		const arrived = (await received()).find((m) => m.to.includes(mailbox.address));
		expect(arrived?.server).toBe('rcptRefused');
		expect(arrived?.from).toBe(mailbox.address);
		expect(arrived?.data).toContain(`From: "${mailbox.name}" <${mailbox.address}>`);

		// The form's settings, unsaved but for the same server, with an empty password: the stored one
		// is used (for another server it must be typed again: credential-binding.test.ts).
		const draft = await call('POST', '/api/smtp-test', {
			body: { smtp: smtp('rcptRefused', { password: '' }), to: 'nobody@example.test', mailboxId: mailbox.id }
		});
		expect(draft.body).toMatchObject({ ok: false, category: 'rejected', settings: 'form', mailboxId: mailbox.id });

		const history = await call('GET', `/api/mailboxes/${mailbox.id}/smtp-tests`);
		expect(history.body.items.map((r: { settings: string; ok: boolean }) => `${r.settings}:${r.ok}`)).toEqual(['form:false', 'saved:true']);
		for (const secret of secrets) expect(history.text).not.toContain(secret);
		const read = await call('GET', `/api/mailboxes/${mailbox.id}`);
		expect(read.body.lastSmtpTest).toMatchObject({ ok: false, category: 'rejected', settings: 'form' });
		const list = await call('GET', '/api/mailboxes');
		expect(list.body.items.find((m: { id: string }) => m.id === mailbox.id).lastSmtpTest.ok).toBe(false);
	});

	it('needs a password for unsaved settings of a new mailbox', async () => {
		const answer = await call('POST', '/api/smtp-test', { body: { smtp: smtp('plain', { password: '' }), to: 'a@example.test' } });
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields['smtp.password']).toBe('Enter the password to test with');
	});

	it('validates the form settings with the mailbox rules', async () => {
		const answer = await call('POST', '/api/smtp-test', { body: { smtp: smtp('plain', { host: 'smtp://x' }), to: 'not an address' } });
		expect(answer.status).toBe(422);
		expect(Object.keys(answer.body.error.fields).sort()).toEqual(['smtp.host', 'to']);
	});

	it('runs at most one test per mailbox at a time', async () => {
		const mailbox = await savedMailbox('silent');
		const first = call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		await new Promise((resolve) => setTimeout(resolve, 300));
		const second = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} });
		expect(second.status).toBe(409);
		expect(second.body.error.code).toBe('test_running');
		expect((await first).body.category).toBe('timeout');
		// The lease is released with the result.
		const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM smtp_test_locks').first<{ n: number }>();
		expect(rows?.n).toBe(0);
	}, 20_000);

	it('limits how many tests a mailbox may run in ten minutes', async () => {
		const mailbox = await savedMailbox('closed');
		const statuses: number[] = [];
		for (let i = 0; i < 11; i++) statuses.push((await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: {} })).status);
		expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
		expect(statuses[10]).toBe(429);
	});

	it('answers 404 for an unknown mailbox', async () => {
		expect((await call('POST', '/api/mailboxes/nope/smtp-test', { body: {} })).status).toBe(404);
		expect((await call('GET', '/api/mailboxes/nope/smtp-tests')).status).toBe(404);
	});
});

describe('words that match the mailbox (issue 19, SPEC §16)', () => {
	const oauth = (stage: Situation['stage'], raw: string): string =>
		classify({ stage, failure: { kind: 'reply', reply: parseReply(raw)! }, encryption: 'starttls', port: 587, host: 'smtp.office365.com', auth: 'oauth2', timeoutSeconds: 10 }).hint;

	it('never tells an OAuth mailbox about a password, and names buttons as they read', () => {
		for (const [stage, raw] of [
			['auth', '535 5.7.3 Authentication unsuccessful'],
			['auth', '535 5.7.8 Username and Password not accepted'],
			['mail', '530 5.7.57 Client not authenticated to send mail'],
			['mail', '535 5.7.3 Authentication unsuccessful']
		] as const) {
			const hint = oauth(stage, raw);
			expect(hint, raw).not.toMatch(/password/i);
			// The button beside a sign-in reads "Sign in with Microsoft again" or "Reconnect", never "Sign in".
			expect(hint, raw).not.toMatch(/Sign in button/);
		}
		// A withdrawn sign-in (or another Account) is renewed with the button that then reads "Reconnect".
		for (const failure of [{ reason: 'reconnect' }, { reason: 'account_changed', account: 'old@acme.test' }] as const) {
			const hint = explainAccess(failure as never, 'microsoft', 'support@acme.test').hint;
			expect(hint).toMatch(/Press Reconnect/);
			expect(hint).not.toMatch(/press Sign in with/i);
		}
	});
});
