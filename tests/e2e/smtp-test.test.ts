/**
 * The SMTP sending test in the app (SPEC §4): a real smtp-server on loopback, the real Worker
 * under wrangler dev, driven from the mailbox form by its labels.
 */
import { createServer, type AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PORT_25_MESSAGE } from '../../src/lib/schema/mailbox';
import { callApi, describedBy, field, fillMailboxForm, launchBrowser, mailboxRow, maybeScreenshot, newPage, seedIntegration, signIn, uniqueAddress } from './helpers';

const PASSWORD = 'smtp-e2e-password';
let browser: Browser;
let smtp: SMTPServer;
let smtpPort: number;
/** Every password the peer was offered, to show which tests sent the stored one. */
const offered: string[] = [];

beforeAll(async () => {
	browser = await launchBrowser();
	smtp = new SMTPServer({
		logger: false,
		disableReverseLookup: true,
		allowInsecureAuth: true,
		hideSTARTTLS: true,
		authMethods: ['PLAIN', 'LOGIN'],
		onAuth(auth, _session, callback) {
			offered.push(auth.password ?? '');
			if (auth.password === PASSWORD) return callback(null, { user: auth.username });
			callback(Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 }));
		},
		onData(stream, _session, callback) {
			stream.resume();
			stream.on('end', () => callback());
		}
	});
	smtp.on('error', () => {});
	await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
	smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
	await browser?.close();
	await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

async function seedTestableMailbox() {
	const integration = await seedIntegration();
	const { status, body } = await callApi('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name: 'Acme Support',
		address: uniqueAddress('smtp'),
		smtp: { host: '127.0.0.1', port: smtpPort, username: 'support@acme.example', password: PASSWORD, encryption: 'none' }
	});
	expect(status).toBe(201);
	return body as { id: string; address: string };
}

describe('SMTP sending test in the form', () => {
	it('passes on the saved settings, shows each stage, then explains a wrong unsaved password', async () => {
		const mailbox = await seedTestableMailbox();
		const { context, page } = await newPage(browser);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await expect.poll(() => field(page, 'Send test to').inputValue()).toBe(mailbox.address);

		await page.getByRole('button', { name: 'Send test' }).click();
		const result = page.getByRole('region', { name: 'SMTP test result' });
		await result.getByText('Test passed').waitFor();
		const stages = result.getByRole('list', { name: 'Stages' }).getByRole('listitem');
		expect(await stages.count()).toBe(7);
		expect(await stages.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('Log in')]));
		await result.getByText(/Show the SMTP transcript/).click();
		const transcript = await result.locator('pre.transcript').innerText();
		expect(transcript).toContain('AUTH PLAIN [redacted]');
		expect(transcript).not.toContain(PASSWORD);

		// Unsaved settings: a wrong password typed into the form, not saved.
		await field(page, 'Password').fill('not-the-password');
		await page.getByRole('button', { name: 'Send test' }).click();
		await result.getByText('Test failed').waitFor();
		await expect.poll(() => result.innerText()).toContain('Account or password');
		expect(await result.getByTestId('smtp-server-message').innerText()).toContain('535');
		expect(await result.getByTestId('smtp-hint').innerText()).toMatch(/account or password/i);
		expect(await result.locator('[data-stage="auth"]').innerText()).toMatch(/failed/);
		await maybeScreenshot(page, 'smtp-test-failed');

		// The history lists both, newest first; the list's badge shows the latest.
		const history = page.getByRole('region', { name: 'SMTP test history' });
		await expect.poll(() => history.getByRole('listitem').count()).toBe(2);
		await page.goto('/');
		await expect.poll(() => mailboxRow(page, mailbox.address).innerText()).toMatch(/Failed/);
		await context.close();
	});

	it('does not send the stored password to unsaved server settings: it asks for it again', async () => {
		const mailbox = await seedTestableMailbox();
		const { context, page } = await newPage(browser);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await expect.poll(() => field(page, 'Send test to').inputValue()).toBe(mailbox.address);
		const before = offered.filter((password) => password === PASSWORD).length;

		// Same peer, another spelling of its host: for the binding it is another server (issue 18).
		await field(page, 'Server address').fill('localhost');
		expect(await field(page, 'Password').inputValue()).toBe('');
		await page.getByRole('button', { name: 'Send test' }).click();
		await page.getByRole('alert').filter({ hasText: 'Enter the password again' }).waitFor();
		expect(offered.filter((password) => password === PASSWORD).length).toBe(before);

		// Back on the saved server, the stored password goes to it.
		await field(page, 'Server address').fill('127.0.0.1');
		await page.getByRole('button', { name: 'Send test' }).click();
		const result = page.getByRole('region', { name: 'SMTP test result' });
		await result.getByText('Test passed').waitFor();
		expect(offered.filter((password) => password === PASSWORD).length).toBe(before + 1);
		await context.close();
	});

	it('refuses port 25 on the form before anything is sent', async () => {
		const mailbox = await seedTestableMailbox();
		const { context, page } = await newPage(browser);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		// Any test request leaving the page (a refusal from the Worker would look much the same on
		// the form); nothing can reach an SMTP server without one.
		const testRequests: string[] = [];
		page.on('request', (request) => {
			if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/smtp-test')) testRequests.push(request.url());
		});
		await field(page, 'Port').fill('25');
		await page.getByRole('button', { name: 'Send test' }).click();
		await page.getByRole('alert').filter({ hasText: 'SMTP sending settings' }).waitFor();
		expect(await page.getByText(PORT_25_MESSAGE).count()).toBeGreaterThan(0);
		expect(testRequests).toEqual([]);
		await context.close();
	});

	it('says the test needs the network when offline', async () => {
		const mailbox = await seedTestableMailbox();
		const { context, page } = await newPage(browser);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await page.getByRole('button', { name: 'Send test' }).waitFor();
		await context.setOffline(true);
		await page.getByText('The SMTP test needs the network').waitFor();
		expect(await page.getByRole('button', { name: 'Send test' }).isDisabled()).toBe(true);
		await context.setOffline(false);
		await expect.poll(() => page.getByRole('button', { name: 'Send test' }).isDisabled()).toBe(false);
		await context.close();
	});
});

/** A loopback port that was open a moment ago and is closed now: connecting is refused. */
async function closedPort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
	const { port } = server.address() as AddressInfo;
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}

describe('what the test says is true (issue 19, SPEC §16)', () => {
	it('names a refused connection as ours, and keeps a passing test of unsaved settings with the mailbox once saved', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('tested');
		const closed = await closedPort();
		const { context, page } = await newPage(browser);
		await signIn(page);
		await page.goto('/mailboxes/new');
		await fillMailboxForm(page, {
			integration: integration.name,
			name: 'Tested before saving',
			address,
			host: '127.0.0.1',
			port: String(closed),
			account: 'support@acme.example',
			password: PASSWORD
		});
		await field(page, 'Encryption').selectOption({ label: 'None' });

		// Nothing answered: the hint says what happened, and there is no "The server said".
		await page.getByRole('button', { name: 'Send test' }).click();
		const result = page.getByRole('region', { name: 'SMTP test result' });
		await result.getByText('Test failed').waitFor();
		expect(await result.getByTestId('smtp-hint').innerText()).toContain(`Could not connect to 127.0.0.1:${closed}: connection refused`);
		expect(await result.getByText('The server said').count()).toBe(0);
		expect(await result.innerText()).not.toMatch(/proxy request|network connection lost/i);
		await maybeScreenshot(page, 'smtp-test-local-failure');

		// The right port: passes, before the mailbox was ever saved.
		await field(page, 'Port').fill(String(smtpPort));
		await page.getByRole('button', { name: 'Send test' }).click();
		await result.getByText('Test passed').waitFor();
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname));
		const id = new URL(page.url()).pathname.split('/').pop()!;

		// Kept with the mailbox: its API, its page and the list show the passing test, not "Not tested yet".
		await expect.poll(async () => (await callApi('GET', `/api/mailboxes/${id}`)).body.lastSmtpTest?.ok).toBe(true);
		const health = page.getByRole('region', { name: 'Mailbox health' });
		await expect.poll(() => health.innerText()).toMatch(/Passed/);
		const history = page.getByRole('region', { name: 'SMTP test history' });
		await expect.poll(() => history.getByRole('listitem').count()).toBe(1);
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();
		await expect.poll(() => mailboxRow(page, address).innerText()).toMatch(/Passed/);
		expect(await mailboxRow(page, address).innerText()).not.toContain('Not tested yet');
		await context.close();
	});

	it('speaks of the sign-in, never a password, to an OAuth mailbox whose sign-in needs renewing', async () => {
		const baseUrl = inject('e2eBaseUrl');
		const integration = await seedIntegration();
		const account = uniqueAddress('renew');
		const created = await callApi('POST', '/api/mailboxes', {
			integrationId: integration.id,
			name: 'Signs in with Microsoft',
			address: uniqueAddress('oauthwords'),
			smtp: { host: '127.0.0.1', port: inject('e2eSmtpPort'), username: account, encryption: 'none', auth: 'oauth2', oauth: { provider: 'microsoft' } }
		});
		expect(created.status).toBe(201);
		const mailbox = created.body as { id: string; address: string };
		// Signed in (the stand-in consents at once), then the provider withdraws the access.
		const start = await callApi('POST', `/api/mailboxes/${mailbox.id}/oauth/start`, { provider: 'microsoft' });
		const back = (await fetch(start.body.authorizationUrl, { redirect: 'manual' })).headers.get('location')!;
		const callback = await fetch(new URL(new URL(back).pathname + new URL(back).search, baseUrl), { redirect: 'manual' });
		expect(callback.headers.get('location')).toContain('oauth=connected');
		const control = await fetch(inject('e2eOAuthControl'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ revoke: account }) });
		expect(control.ok).toBe(true);
		const test = await callApi('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, {});
		expect(test.body).toMatchObject({ ok: false, category: 'auth' });

		const { context, page } = await newPage(browser);
		await signIn(page);
		await expect.poll(() => mailboxRow(page, mailbox.address).innerText()).toContain('Needs reconnect');
		expect(await mailboxRow(page, mailbox.address).innerText()).not.toMatch(/\(auth at auth\)|password/i);
		await page.getByRole('link', { name: `Edit ${mailbox.address}` }).click();
		await page.getByTestId('sign-in-renew').waitFor();
		expect(await page.getByTestId('sign-in-renew').innerText()).toBe('Sign-in to Microsoft 365 needs renewing: Reconnect');
		await expect.poll(() => page.getByRole('region', { name: 'Mailbox health' }).innerText()).toContain('(Sign-in, at Log in)');
		expect(await page.getByRole('region', { name: 'Mailbox health' }).innerText()).not.toMatch(/password/i);
		const history = page.getByRole('region', { name: 'SMTP test history' });
		await history.getByRole('listitem').first().getByText('Sign-in').first().waitFor();
		await history.getByRole('listitem').first().locator('summary').first().click();
		// Our words (not the server's own, quoted under "The server said") name the sign-in.
		const item = history.getByRole('listitem').first();
		const ours = `${await item.locator('summary').first().innerText()} ${await item.getByTestId('smtp-hint').innerText()}`;
		expect(ours).toContain('Sign-in');
		expect(ours).not.toMatch(/password/i);
		expect(ours).toContain('Reconnect');
		// Encryption None: warned about the sign-in, never a password.
		const encryptionWords = (await describedBy(field(page, 'Encryption'))).join(' ');
		expect(encryptionWords).toMatch(/the sign-in and every message travel unencrypted/);
		expect(encryptionWords).not.toMatch(/password/i);
		await page.getByRole('button', { name: 'Reconnect' }).waitFor();
		await maybeScreenshot(page, 'oauth-needs-reconnect');
		await context.close();
	});
});
