/**
 * Sending through Microsoft Graph (SPEC §14) in Chromium, end to end: the real Worker under
 * wrangler dev signs in with the loopback provider stand-in (scripts/local-oauth.mjs, started by
 * the global setup), which also serves Graph's sendMail and records each MIME message it takes.
 * The admin chooses Microsoft 365 and Send through "Microsoft Graph API" (no server, port or
 * encryption asked), signs in, runs the sending test (Access token, Send), replies from an inbound
 * message's page and sees it sent in Sent mail; the stand-in got both messages through Graph. A
 * mailbox signed in for SMTP and switched to Graph is told, before and after saving, to Reconnect
 * and why, and sends through Graph once it has; a refusal by Graph shows its status and code
 * under "Microsoft 365 answered", at Send (API), with the hint for it.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { field, getMailbox, maybeScreenshot, newPage, seedIntegration, signIn, unique, uniqueAddress, useBrowser } from './helpers';
import { bodyOf, deliverMail, headerOf, publishZone } from './mail';
import type { ReceivedMail } from './smtp-peer';

const browser = useBrowser();
const control = inject('e2eOAuthControl');
const smtpPort = inject('e2eSmtpPort');

/** The queue consumer's 2-second batch window and one request to the stand-in, with room for a loaded machine. */
const DELIVERY_MS = 30_000;

interface ApiRequest {
	provider: string;
	account: string;
	status: number;
	mime: string;
	contentType: string;
	authorization: string;
}

/** What the stand-in's Graph took so far for `account` (GET /__control). */
async function graphRequests(account: string): Promise<ApiRequest[]> {
	const response = await fetch(control);
	const { apiRequests } = (await response.json()) as { apiRequests: ApiRequest[] };
	return apiRequests.filter((request) => request.provider === 'microsoft' && request.account.toLowerCase() === account.toLowerCase());
}

let zone: Awaited<ReturnType<typeof publishZone>>;
beforeAll(async () => {
	zone = await publishZone();
});

/** The basic fields of a new mailbox, then Microsoft 365 as the Sign-in method. */
async function startMicrosoftMailbox(page: Page, options: { integration: string; address: string; account: string }) {
	await page.goto('/mailboxes/new');
	await field(page, 'Associated channel integration').selectOption({ label: options.integration });
	await field(page, 'Mailbox name').fill('Graph desk');
	await field(page, 'Service email address').fill(options.address);
	await field(page, 'Sign-in method').selectOption({ label: 'Microsoft 365' });
	await field(page, 'Account').fill(options.account);
}

/** Sign in with Microsoft (or Reconnect): the stand-in consents as the Account and sends the browser back. */
async function signInAtProvider(page: Page, button: string, account: string): Promise<void> {
	await page.getByRole('button', { name: button }).click();
	await page.getByRole('status').filter({ hasText: `Signed in with Microsoft 365 as ${account}` }).waitFor({ timeout: 20_000 });
}

async function passingTest(page: Page) {
	await page.getByRole('button', { name: 'Send test' }).click();
	const result = page.getByRole('region', { name: 'Sending test result', exact: true });
	await result.getByText('Test passed').waitFor({ timeout: 40_000 });
	return result;
}

describe('Send through Microsoft Graph', () => {
	it('chooses Microsoft 365 and the Graph API, signs in, passes the sending test, replies from a message page, and Sent mail shows it sent', async () => {
		const integration = await seedIntegration();
		const address = `graph-${unique('desk').slice(5)}@${zone.pass}`;
		const account = uniqueAddress('graph');
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await startMicrosoftMailbox(page, { integration: integration.name, address, account });

		// Send through appears with the provider, SMTP server first; the API needs no server settings.
		const sendVia = field(page, 'Send through');
		expect(await sendVia.inputValue()).toBe('smtp');
		expect(await sendVia.locator('option').allInnerTexts()).toEqual(['SMTP server', 'Microsoft Graph API']);
		expect(await field(page, 'Server address').count()).toBe(1);
		await sendVia.selectOption({ label: 'Microsoft Graph API' });
		for (const label of ['Server address', 'Port', 'Encryption', 'Password']) expect(await field(page, label).count()).toBe(0);
		expect(await page.getByRole('group', { name: 'Sending settings', exact: true }).count()).toBe(1);
		expect(await page.locator('#mailbox-send-via-hint').innerText()).toContain('works where SMTP AUTH is switched off');
		// The sending test's panel is worded for the API before anything is saved.
		expect(await page.getByRole('heading', { name: 'Sending test', exact: true }).count()).toBe(1);
		expect(await page.getByRole('heading', { name: 'SMTP sending test', exact: true }).count()).toBe(0);
		expect(await page.locator('#oauth-note').innerText()).toContain('Mail.Send');
		// Google's API is the Gmail API, asking for gmail.send; back to Microsoft, Graph stays chosen.
		await field(page, 'Sign-in method').selectOption({ label: 'Google' });
		expect(await sendVia.locator('option').allInnerTexts()).toEqual(['SMTP server', 'Gmail API']);
		expect(await sendVia.inputValue()).toBe('api');
		expect(await page.locator('#oauth-note').innerText()).toContain('gmail.send');
		await field(page, 'Sign-in method').selectOption({ label: 'Microsoft 365' });
		expect(await sendVia.inputValue()).toBe('api');
		await maybeScreenshot(page, 'api-send-form');

		// Save: the mailbox is on the server sending through the API, with Microsoft's server stored in place of one.
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname), { timeout: 20_000 });
		const id = new URL(page.url()).pathname.split('/').pop()!;
		await expect.poll(async () => (await getMailbox(id)).smtp.sendVia, { timeout: 20_000 }).toBe('api');
		expect((await getMailbox(id)).smtp).toMatchObject({ auth: 'oauth2', host: 'smtp.office365.com', port: 587, encryption: 'starttls' });
		expect(await field(page, 'Send through').inputValue()).toBe('api');

		// Sign in: the stand-in consents to Mail.Send for the Account.
		await signInAtProvider(page, 'Sign in with Microsoft', account);
		await expect.poll(async () => (await getMailbox(id)).smtp.oauth).toMatchObject({ account, status: 'connected', scopeMissing: false });
		expect(await page.getByText(/Signed in as/).filter({ hasText: account }).innerText()).toContain('send through the Microsoft Graph API');

		// The sending test: an access token, then Graph's sendMail; words without an SMTP server or a password.
		const before = (await graphRequests(account)).length;
		const result = await passingTest(page);
		const stages = result.getByRole('list', { name: 'Stages' }).getByRole('listitem');
		expect(await stages.evaluateAll((items) => items.map((item) => item.getAttribute('data-stage')))).toEqual(['token', 'send']);
		expect(await result.locator('[data-stage="token"]').innerText()).toContain('Access token');
		expect(await result.locator('[data-stage="send"]').innerText()).toContain('Send (API)');
		const panel = page.getByRole('region', { name: 'Sending test', exact: true });
		expect(await panel.innerText()).not.toMatch(/SMTP|password/i);
		await maybeScreenshot(page, 'api-send-test');
		const tested = await graphRequests(account);
		expect(tested.length).toBe(before + 1);
		expect(tested.at(-1)).toMatchObject({ status: 202, contentType: expect.stringMatching(/^text\/plain/) });
		expect(tested.at(-1)!.mime).toMatch(/^Subject: .*test/im);
		expect(tested.at(-1)!.authorization).not.toMatch(/^Bearer (?!.*redacted)/);
		// The history and the health panel name it a sending test too.
		await page.getByRole('region', { name: 'Sending test history', exact: true }).waitFor();
		expect(await page.getByText('Last sending test', { exact: true }).count()).toBe(1);

		// A customer writes; the reply from the message page leaves through Graph.
		const subject = unique('Parcel through Graph');
		const inbound = await deliverMail({ from: `alice@${zone.pass}`, to: address, subject });
		await page.goto(`/log/${inbound.logId}`);
		const reply = page.getByRole('region', { name: 'Reply' });
		await reply.getByRole('button', { name: 'Reply', exact: true }).click();
		await field(page, 'Message').fill('Hello Alice,\nsent through Microsoft Graph.');
		await reply.getByRole('button', { name: 'Send reply' }).click();
		const item = reply.locator('[data-reply]');
		await expect.poll(() => item.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');
		expect(await item.innerText()).toMatch(/Sent\. Microsoft 365 accepted it at .+\./);
		await item.getByRole('link', { name: 'Open it in Sent mail' }).click();
		await page.locator('article[data-status="sent"]').waitFor({ timeout: DELIVERY_MS });
		expect(await page.getByTestId('outcome').innerText()).toContain('Microsoft 365 accepted it');
		expect(await page.getByRole('list', { name: 'Attempts' }).innerText()).toContain('Accepted by Microsoft 365');
		expect(await page.getByText(/through the Microsoft Graph API \(with a Bcc header/).count()).toBe(1);

		// What Graph took is the composed reply: From, threading, the text.
		const sent = (await graphRequests(account)).filter((request) => request.mime.includes(`Re: ${subject}`));
		expect(sent).toHaveLength(1);
		expect(sent[0]!.status).toBe(202);
		// Read with the helpers for what the SMTP peer receives (there is no envelope through an API).
		const mail: ReceivedMail = { from: '', to: [], data: sent[0]!.mime, user: account, at: '' };
		expect(headerOf(mail, 'From')).toBe(`"Graph desk" <${address}>`);
		expect(headerOf(mail, 'In-Reply-To')).toBe(`<${inbound.messageId}>`);
		expect(bodyOf(mail).replace(/\r\n/g, '\n')).toContain('Hello Alice,\nsent through Microsoft Graph.');
		// Sent mail lists it as sent.
		await page.goto(`/sent?mailboxId=${encodeURIComponent(id)}`);
		await page.locator('[data-outbound-id][data-status="sent"]').filter({ hasText: `Re: ${subject}` }).waitFor({ timeout: DELIVERY_MS });
		await context.close();
	});

	it('a mailbox signed in for SMTP and switched to Graph says Reconnect and why, before and after saving, and sends through Graph once reconnected, showing Graph’s refusal in its own words', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('switch');
		const account = uniqueAddress('switcher');
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await startMicrosoftMailbox(page, { integration: integration.name, address, account });
		// Signed in for SMTP first: this machine's SMTP server stands in for Microsoft's.
		await field(page, 'Server address').fill('127.0.0.1');
		await field(page, 'Port').fill(String(smtpPort));
		await field(page, 'Encryption').selectOption({ label: 'None' });
		await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname), { timeout: 20_000 });
		const id = new URL(page.url()).pathname.split('/').pop()!;
		await page.getByRole('status').filter({ hasText: `Signed in with Microsoft 365 as ${account}` }).waitFor({ timeout: 20_000 });
		expect((await getMailbox(id)).smtp).toMatchObject({ sendVia: 'smtp', oauth: { status: 'connected' } });

		// Switching says, before saving, that Reconnect follows and why.
		await field(page, 'Send through').selectOption({ label: 'Microsoft Graph API' });
		const note = 'After saving, press Reconnect: sending through the Microsoft Graph API needs another consent from Microsoft.';
		await page.getByText(note).waitFor();
		await maybeScreenshot(page, 'api-send-switch');
		// Switching back takes it away.
		await field(page, 'Send through').selectOption({ label: 'SMTP server' });
		expect(await page.getByText(note).count()).toBe(0);
		await field(page, 'Send through').selectOption({ label: 'Microsoft Graph API' });

		// Saved: the grant is for SMTP.Send, so the sign-in reads Reconnect, saying why.
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByText(`Mailbox ${address} saved. Press Reconnect: sending through the Microsoft Graph API needs another consent from Microsoft.`).waitFor({ timeout: 20_000 });
		expect((await getMailbox(id)).smtp).toMatchObject({ sendVia: 'api', oauth: { status: 'reconnect', scopeMissing: true } });
		expect(await page.getByTestId('scope-missing').innerText()).toContain('Reconnect: sending through the Microsoft Graph API needs another consent from Microsoft.');
		expect(await page.getByTestId('sign-in-renew').innerText()).toContain('Sending through the Microsoft Graph API needs another consent from Microsoft');
		await maybeScreenshot(page, 'api-send-reconnect');

		// Reconnect: the stand-in consents to Mail.Send; the test goes through Graph.
		await signInAtProvider(page, 'Reconnect', account);
		await expect.poll(async () => (await getMailbox(id)).smtp.oauth).toMatchObject({ status: 'connected', scopeMissing: false });
		const result = await passingTest(page);
		expect(await result.locator('[data-stage="send"]').count()).toBe(1);
		expect((await graphRequests(account)).at(-1)).toMatchObject({ status: 202 });

		// Graph refuses the next one: its status and code are what Microsoft answered, at Send (API).
		const refusal = { status: 403, body: { error: { code: 'ErrorSendAsDenied', message: 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.' } } };
		const scripted = await fetch(control, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiAnswers: { provider: 'microsoft', answers: [refusal] } }) });
		expect(scripted.ok).toBe(true);
		await page.getByRole('button', { name: 'Send test' }).click();
		await result.getByText('Test failed').waitFor({ timeout: 40_000 });
		expect(await result.locator('[data-stage="send"]').innerText()).toMatch(/Send \(API\)\s*failed/);
		expect(await result.getByText('Refused by Microsoft 365', { exact: true }).count()).toBe(1);
		const answered = result.getByRole('figure').filter({ hasText: 'Microsoft 365 answered' });
		expect(await answered.getByTestId('smtp-server-message').innerText()).toMatch(/403[\s\S]*ErrorSendAsDenied/);
		expect(await result.getByTestId('smtp-hint').innerText()).toContain('Send As');
		expect(await result.innerText()).not.toMatch(/SMTP|password|The server said/i);
		await context.close();
	});
});
