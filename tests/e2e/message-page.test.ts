/**
 * The message page of the email log (SPEC §5, §7, §9): mail delivered through the real email()
 * handler under wrangler dev and authenticated against the loopback DoH server, read in Chromium.
 * Every message goes to this file's own mailbox from this file's own zone.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeFileName } from '../../src/lib/schema/message';
import {
	callApi,
	seedIntegration,
	describedBy,
	DESKTOP,
	installedPage,
	maybeScreenshot,
	newPage,
	PHONE,
	readLogCache,
	scrollWidth,
	signIn,
	useBrowser
} from './helpers';
import { deliverMail, publishZone, seedServiceMailbox, SENDER_IP } from './mail';

const browser = useBrowser();
let zone: Awaited<ReturnType<typeof publishZone>>;
let mailbox: { id: string; address: string };

beforeAll(async () => {
	zone = await publishZone();
	mailbox = await seedServiceMailbox('Message page desk');
});

const customer = (domain: string) => `customer-${randomBytes(3).toString('hex')}@${domain}`;

/** A signed-in page on the message; resolves once the page has its troubleshooting panel. */
async function openMessage(page: Page, logId: string): Promise<void> {
	await page.goto(`/log/${logId}`);
	await page.getByRole('heading', { level: 2, name: 'Troubleshooting' }).waitFor();
}

const section = (page: Page, name: string) => page.getByRole('region', { name, exact: true });
const problem = (page: Page, name: string) => page.locator(`[data-problem="${name}"]`);

/** How many list views the log cache holds, and when message `logId` was kept (null when it is not). */
async function logCache(page: Page, logId: string): Promise<{ pages: number; loadedAt: string | null }> {
	const cache = await readLogCache(page);
	return { pages: cache?.pages.length ?? 0, loadedAt: cache?.messages.find((message) => message.key === logId)?.loadedAt ?? null };
}

async function downloaded(page: Page, click: () => Promise<void>): Promise<{ download: Download; bytes: Buffer }> {
	const [download] = await Promise.all([page.waitForEvent('download'), click()]);
	return { download, bytes: await readFile((await download.path())!) };
}

describe('the message page', () => {
	it('lays out an accepted message on a phone: delivery, authentication, forwarding, encoding, content', async () => {
		const from = customer(zone.pass);
		const longReference = `<${'x'.repeat(400)}@${zone.pass}>`;
		const { messageId, logId } = await deliverMail({
			from,
			to: mailbox.address,
			subject: 'Order 1234 has not arrived',
			extraHeaders: `References: ${longReference}\r\n`,
			body: 'Hello, <script>alert("text")</script> my order 1234 & more has not arrived.\r\n'
		});
		const { context, page } = await newPage(browser.current, PHONE);
		const dialogs: string[] = [];
		page.on('dialog', (dialog) => {
			dialogs.push(dialog.message());
			void dialog.dismiss();
		});
		await signIn(page);
		await openMessage(page, logId);

		await page.getByRole('heading', { level: 1, name: 'Order 1234 has not arrived' }).waitFor();
		expect(await page.locator('[data-verdict]').first().innerText()).toContain('Accepted');

		const delivery = section(page, 'Delivery');
		const summary = await delivery.innerText();
		expect(summary).toContain(`Customer <${from}>`);
		expect(summary).toContain(mailbox.address);
		expect(await delivery.getByTestId('message-id').innerText()).toBe(messageId);
		await delivery.getByRole('link', { name: /Message page desk/ }).waitFor();

		const auth = section(page, 'Authentication');
		const spf = await auth.locator('[data-check="spf"]').innerText();
		expect(spf).toContain(`SPF passed: ${SENDER_IP} is allowed to send for ${zone.pass}.`);
		expect(spf).toMatch(new RegExp(`Client IP\\s+${SENDER_IP.replace(/\./g, '\\.')}`));
		expect(spf).toMatch(/HELO\s+mail\.sender\.example/);
		expect(await auth.locator('[data-auth="spf"]').getAttribute('data-result')).toBe('pass');
		expect(await auth.locator('[data-check="dkim"]').innerText()).toContain('No DKIM signature');
		const dmarc = await auth.locator('[data-check="dmarc"]').innerText();
		expect(dmarc).toContain(`DMARC passed for ${zone.pass}`);
		expect(dmarc).toMatch(/Published policy\s+p=reject/);
		expect(dmarc).toMatch(/SPF aligned\s+Yes/);
		expect(dmarc).toMatch(/DKIM aligned\s+No/);
		expect(await auth.locator('[data-check="arc"]').innerText()).toContain('No ARC');

		expect(await section(page, 'Forwarding').innerText()).toContain('Not forwarded');
		expect(await section(page, 'Encoding').innerText()).toContain('utf-8');
		// Text is shown as text: the markup in it is visible, and nothing ran.
		expect(await page.getByTestId('message-text').innerText()).toContain('<script>alert("text")</script> my order 1234 & more');
		expect(await section(page, 'Content').innerText()).toContain('No attachments.');

		// SPEC §16: nothing to do, so the troubleshooting is one line, unfolded on request.
		expect(await page.getByTestId('troubleshooting-summary').innerText()).toBe('Delivered normally: nothing needs doing.');
		await page.getByTestId('troubleshooting-summary').click();
		await problem(page, 'delivered').getByRole('heading', { name: 'Delivered normally' }).waitFor();
		const provider = await problem(page, 'provider').innerText();
		expect(provider).toContain('Asking a provider for help');
		expect(provider).toContain(messageId);
		expect(provider).toContain('Tue, 24 Nov 2026 09:00:00 +0000');

		// 360px: the page never scrolls sideways; the long References line scrolls inside its box.
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		const headerBox = page.getByTestId('header-block');
		expect(await headerBox.evaluate((pre) => pre.scrollWidth > pre.clientWidth)).toBe(true);
		expect(dialogs).toEqual([]);
		await maybeScreenshot(page, 'message-accepted-phone');
		await context.close();
	});

	it('copies the headers and the Message-ID, downloads the headers (.txt) and the original (.eml)', async () => {
		const { messageId, logId } = await deliverMail({
			from: customer(zone.pass),
			to: mailbox.address,
			subject: 'Headers for the provider',
			body: 'The body that must be in the original.\r\n'
		});
		const detail = (await callApi('GET', `/api/messages/${logId}`)).body as { headers: string };
		expect(detail.headers).toContain(`Message-ID: <${messageId}>`);
		const { context, page } = await newPage(browser.current);
		await context.grantPermissions(['clipboard-read', 'clipboard-write']);
		await signIn(page);
		await openMessage(page, logId);

		const original = section(page, 'Original message');
		expect(await original.getByTestId('header-block').textContent()).toBe(detail.headers);
		await original.getByRole('button', { name: 'Copy headers' }).click();
		await original.getByText('✓ Copied').waitFor();
		expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(detail.headers);

		await section(page, 'Delivery').getByRole('button', { name: 'Copy Message-ID' }).click();
		await section(page, 'Delivery').getByText('✓ Copied').waitFor();
		expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(messageId);

		const txt = await downloaded(page, () => original.getByRole('button', { name: 'Download .txt' }).click());
		expect(txt.download.suggestedFilename()).toBe(`${safeFileName(messageId)}-headers.txt`);
		expect(txt.bytes.toString('utf8')).toBe(detail.headers);

		const eml = await downloaded(page, () => original.getByRole('button', { name: 'Download original (.eml)' }).click());
		expect(eml.download.suggestedFilename()).toBe(`${safeFileName(messageId)}.eml`);
		const raw = eml.bytes.toString('utf8');
		expect(raw).toContain(`Message-ID: <${messageId}>`);
		expect(raw).toContain('The body that must be in the original.');
		await context.close();
	});

	it('explains when the clipboard is unavailable, and when the original is gone', async () => {
		const { logId } = await deliverMail({ from: customer(zone.pass), to: mailbox.address, subject: 'No clipboard here' });
		const { context, page } = await newPage(browser.current);
		// A browser without the async Clipboard API (an insecure context, an old browser).
		await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined }));
		await signIn(page);
		await openMessage(page, logId);
		const original = section(page, 'Original message');
		await original.getByRole('button', { name: 'Copy headers' }).click();
		await original.getByText(/The clipboard is not available here\. The text is selected/).waitFor();
		// The header block is selected, ready for Ctrl+C.
		expect(await page.evaluate(() => window.getSelection()?.toString() ?? '')).toContain('Subject: No clipboard here');

		await page.route(`**/api/messages/${logId}/raw`, (route) =>
			route.fulfill({
				status: 404,
				json: { error: { code: 'not_found', message: 'The original of this message is no longer in the archive.' } }
			})
		);
		await original.getByRole('button', { name: 'Download original (.eml)' }).click();
		expect(await original.getByRole('alert').innerText()).toContain('no longer in the archive');
		await context.close();
	});

	it('says when a message is not in the log; offline, that it needs the network, and opens once back online', async () => {
		const { logId } = await deliverMail({ from: customer(zone.pass), to: mailbox.address, subject: 'Back online' });
		const { context, page } = await installedPage(browser.current);
		await page.goto(`/log/${randomUUID()}`);
		await page.getByRole('heading', { level: 1, name: 'Message not found' }).waitFor();
		expect(await page.locator('main').innerText()).toContain('not in the log (older than 30 days?)');

		// The installed shell opens the page with no network; the message itself needs it.
		await context.setOffline(true);
		await page.goto(`/log/${logId}`);
		const offline = page.getByRole('status').filter({ has: page.getByRole('heading', { name: 'This message needs the network' }) });
		await offline.waitFor();
		expect(await offline.innerText()).toContain('You are offline');
		await context.setOffline(false);
		await page.getByRole('heading', { level: 1, name: 'Back online' }).waitFor();
		await context.close();
	});

	it('offline, shows a message opened before as loaded then, marked stale; one never opened needs the network', async () => {
		// A mailbox of its own: the garbled test below counts the garbled mail of this file's mailbox.
		const desk = await seedServiceMailbox('Offline desk');
		const from = customer(zone.pass);
		const mislabelled = Buffer.from('Un caf\xe9 na\xefve, s\xe9ance \xe0 10 h.\r\n', 'latin1');
		const opened = await deliverMail({
			from,
			to: desk.address,
			subject: 'Read on the train',
			contentType: 'text/plain; charset=utf-8',
			body: new Uint8Array(mislabelled)
		});
		await deliverMail({ from, to: desk.address, subject: 'Never opened here' });
		const detail = (await callApi('GET', `/api/messages/${opened.logId}`)).body as { headers: string };
		const { context, page } = await installedPage(browser.current);
		await context.grantPermissions(['clipboard-read', 'clipboard-write']);

		// Online: the log view, then the message from it; both are kept on the device in the background.
		const list = `/log?from=${encodeURIComponent(from)}`;
		await page.goto(list);
		await page.getByRole('link', { name: 'Read on the train' }).click();
		await page.getByRole('heading', { level: 1, name: 'Read on the train' }).waitFor();
		await expect.poll(() => logCache(page, opened.logId)).toEqual({ pages: 1, loadedAt: expect.any(String) });
		const { loadedAt } = await logCache(page, opened.logId);

		// Offline, the page opens from the installed shell with the message as loaded then.
		await context.setOffline(true);
		await page.reload();
		await page.getByRole('heading', { level: 1, name: 'Read on the train' }).waitFor();
		const notice = page.locator('[data-stale]');
		expect(await notice.innerText()).toMatch(/^You’re offline\. Showing this message as loaded at .+; it may be stale\./);
		expect(await notice.locator('time').getAttribute('datetime')).toBe(loadedAt);
		expect(await section(page, 'Authentication').locator('[data-check="spf"]').innerText()).toContain(
			`SPF passed: ${SENDER_IP} is allowed to send for ${zone.pass}.`
		);
		const original = section(page, 'Original message');
		expect(await original.getByTestId('header-block').textContent()).toBe(detail.headers);
		await original.getByRole('button', { name: 'Copy headers' }).click();
		await original.getByText('✓ Copied').waitFor();
		expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(detail.headers);
		const txt = await downloaded(page, () => original.getByRole('button', { name: 'Download .txt' }).click());
		expect(txt.bytes.toString('utf8')).toBe(detail.headers);
		// What needs the server says so instead of failing.
		const eml = original.getByRole('button', { name: 'Download original (.eml)' });
		expect(await eml.isDisabled()).toBe(true);
		expect(await describedBy(eml)).toEqual([expect.stringContaining('downloading the original needs the connection')]);
		const senders = problem(page, 'garbled').getByTestId('garbled-senders');
		expect(await senders.innerText()).toContain('Counting the senders of garbled mail needs the connection.');
		await maybeScreenshot(page, 'message-offline');

		// From the log as kept on this device: a message never opened here needs the network, the other opens.
		await page.goto(list);
		await page.locator('[data-stale]').waitFor();
		await page.getByRole('link', { name: 'Never opened here' }).click();
		await page.getByRole('status').filter({ has: page.getByRole('heading', { name: 'This message needs the network' }) }).waitFor();
		await page.goBack();
		await page.getByRole('link', { name: 'Read on the train' }).click();
		await page.getByRole('heading', { level: 1, name: 'Read on the train' }).waitFor();
		expect(await notice.innerText()).toContain('Showing this message as loaded at');

		// Back online, the live message replaces the copy, and what needs the server works again.
		await context.setOffline(false);
		await notice.waitFor({ state: 'detached' });
		expect(await eml.isDisabled()).toBe(false);
		await senders.getByText(`All 1 garbled message came from this message’s sender, ${from}`, { exact: false }).waitFor();

		// Signing out forgets the copies (they name customers).
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL((url) => url.pathname === '/login');
		await expect.poll(() => logCache(page, opened.logId)).toEqual({ pages: 0, loadedAt: null });
		await context.close();
	});
});

describe('customer mail first, forgeries said so (SPEC §16)', () => {
	/** The page's panel headings, in document order. */
	const panelOrder = (page: Page) => page.locator('article.message h2').allInnerTexts();

	it('shows an accepted message’s text right after the delivery facts, its troubleshooting folded to one line; mail with a problem keeps it open on top', async () => {
		const { logId } = await deliverMail({ from: customer(zone.pass), to: mailbox.address, subject: 'Just a question', body: 'Is the shop open on Sunday?\r\n' });
		const { context, page } = await newPage(browser.current, { width: 390, height: 844 });
		await signIn(page);
		await openMessage(page, logId);
		const order = await panelOrder(page);
		expect(order.indexOf('Content'), order.join(' / ')).toBe(order.indexOf('Delivery') + 1);
		expect(order.indexOf('Troubleshooting')).toBeGreaterThan(order.indexOf('Content'));
		// No warning box above the text; the troubleshooting is one line, its findings hidden until asked for.
		const content = await page.getByRole('heading', { level: 2, name: 'Content' }).elementHandle();
		const warningsAbove = await page
			.locator('article.message .notice, article.message .problem')
			.evaluateAll((nodes, text) => nodes.filter((node) => node.compareDocumentPosition(text!) & Node.DOCUMENT_POSITION_FOLLOWING).length, content);
		expect(warningsAbove).toBe(0);
		const troubleshooting = section(page, 'Troubleshooting');
		expect(await troubleshooting.getAttribute('data-folded')).toBe('true');
		expect(await problem(page, 'delivered').isVisible()).toBe(false);
		const summary = page.getByTestId('troubleshooting-summary');
		expect(await troubleshooting.locator('details').getAttribute('open')).toBeNull();
		// Its title and one line (at 390 px the line wraps under the title): no taller than that.
		expect((await troubleshooting.boundingBox())!.height).toBeLessThan(130);
		expect(await summary.innerText()).toBe('Delivered normally: nothing needs doing.');
		await maybeScreenshot(page, 'message-customer-first-phone');
		await summary.click();
		expect(await problem(page, 'delivered').isVisible()).toBe(true);

		// Quarantined mail needs a look: its troubleshooting stays open, before the text.
		const held = await deliverMail({ from: customer(zone.quarantine), to: mailbox.address, subject: 'Held for DMARC' });
		await openMessage(page, held.logId);
		const heldOrder = await panelOrder(page);
		expect(heldOrder.indexOf('Troubleshooting'), heldOrder.join(' / ')).toBe(heldOrder.indexOf('Delivery') + 1);
		expect(await section(page, 'Troubleshooting').getAttribute('data-folded')).toBe('false');
		expect(await problem(page, 'dmarc-quarantine').isVisible()).toBe(true);
		await context.close();
	});

	it('says a From of the mailbox’s own domain that fails its DMARC may be a forgery, rightly refused, before any SPF advice, and never to add the IP', async () => {
		// A zone of its own: once it is a service address's domain, all its mail is "own domain" mail.
		const ownZone = await publishZone();
		const integration = await seedIntegration();
		const own = `support-${randomBytes(3).toString('hex')}@${ownZone.reject}`;
		const created = await callApi('POST', '/api/mailboxes', {
			integrationId: integration.id,
			name: 'Own domain desk',
			address: own,
			smtp: { host: 'smtp.helpdesk.example', port: 587, username: own, password: 'app-password', encryption: 'starttls' }
		});
		expect(created.status).toBe(201);
		const { logId, rejection } = await deliverMail({ from: `ceo@${ownZone.reject}`, to: own, subject: 'Urgent wire transfer' });
		expect(rejection).not.toBeNull();

		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await openMessage(page, logId);
		const forgery = problem(page, 'own-domain-forgery');
		await forgery.getByRole('heading', { name: 'Likely a forgery of your own domain, rightly refused' }).waitFor();
		const said = await forgery.innerText();
		expect(said).toContain(`the domain of your service address Own domain desk (${own})`);
		expect(said).toContain(`It came from ${SENDER_IP}. Check whether that is your SMTP server (smtp.helpdesk.example); if it is not, do not add it to SPF.`);
		// Said before any SPF advice, which then only asks to check the IP.
		const advice = page.getByTestId('spf-advice');
		expect(await forgery.evaluate((node, other) => Boolean(node.compareDocumentPosition(other!) & Node.DOCUMENT_POSITION_FOLLOWING), await advice.elementHandle())).toBe(true);
		expect(await advice.innerText()).toContain(`first check whether ${SENDER_IP} is your SMTP server (smtp.helpdesk.example`);
		const panel = await section(page, 'Troubleshooting').innerText();
		expect(panel).not.toMatch(/must list every server|add it to .*SPF record/);
		expect(await page.getByTestId('admin-note').count()).toBe(0);
		await maybeScreenshot(page, 'message-own-domain-forgery');
		await context.close();
	});
});

describe('the troubleshooting panel', () => {
	let page: Page;
	let close: () => Promise<void>;

	beforeAll(async () => {
		const opened = await newPage(browser.current);
		page = opened.page;
		close = () => opened.context.close();
		await signIn(page);
	});

	afterAll(async () => {
		await close?.();
	});

	it('after a DMARC p=reject failure: names the domain, what failed, what to fix and what to send', async () => {
		const from = customer(zone.reject);
		const { messageId, logId, rejection } = await deliverMail({ from, to: mailbox.address, subject: 'Refused by DMARC' });
		expect(rejection).not.toBeNull();
		await openMessage(page, logId);
		const reason = `550 5.7.1 Unauthenticated email from ${zone.reject} is not accepted due to domain's DMARC policy`;
		expect(await page.getByTestId('reason').innerText()).toContain(reason);
		expect(await page.locator('[data-verdict]').first().innerText()).toContain('Rejected');

		const panel = problem(page, 'dmarc-reject');
		await panel.getByRole('heading', { name: `Refused by ${zone.reject}’s DMARC policy` }).waitFor();
		const text = await panel.innerText();
		expect(text).toContain(`the sender’s domain, ${zone.reject}, must publish correct SPF and DKIM`);
		expect(text).toMatch(/SPF fail\s+checked for/);
		expect(text).toContain(`not aligned with ${zone.reject}`);
		expect(text).toContain('No DKIM signature');
		expect(text).toContain('breaks its DKIM signature');
		expect(await panel.getByTestId('forwarding-note').count()).toBe(0);
		const note = await panel.getByTestId('admin-note').innerText();
		expect(note).toContain(`Message-ID: <${messageId}>`);
		expect(note).toContain(`SPF: fail`);
		expect(note).toContain(reason);
		expect(await section(page, 'Content').innerText()).toContain('Refused mail is logged with its headers only');
		await maybeScreenshot(page, 'message-dmarc-reject');
		// The long reason and the note wrap on a phone instead of widening the page.
		await page.setViewportSize(PHONE);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await page.setViewportSize(DESKTOP);
	});

	it('after a DMARC failure of natively forwarded mail: says forwarding is involved', async () => {
		const { logId } = await deliverMail({
			from: customer(zone.reject),
			to: mailbox.address,
			subject: 'Forwarded by a server',
			extraHeaders: `X-Forwarded-To: ${mailbox.address}\r\n`
		});
		await openMessage(page, logId);
		expect(await section(page, 'Forwarding').innerText()).toContain('Native forwarding');
		expect(await problem(page, 'dmarc-reject').getByTestId('forwarding-note').innerText()).toContain('forwarded by a mail server');
	});

	it('after a DMARC p=quarantine failure: accepted but quarantined, with the same advice', async () => {
		const { logId } = await deliverMail({ from: customer(zone.quarantine), to: mailbox.address, subject: 'Quarantined' });
		await openMessage(page, logId);
		expect(await page.locator('[data-verdict]').first().innerText()).toContain('Quarantined');
		const panel = problem(page, 'dmarc-quarantine');
		await panel.getByRole('heading', { name: `Accepted but quarantined: ${zone.quarantine} failed DMARC` }).waitFor();
		const text = await panel.innerText();
		expect(text).toContain('accepted but marked quarantined');
		expect(text).toContain('p=quarantine');
		expect(text).toContain('must publish correct SPF and DKIM');
		expect(await section(page, 'Authentication').locator('[data-check="dmarc"]').innerText()).toMatch(/Published policy\s+p=quarantine/);
	});

	it('after a DMARC failure under p=none: accepted, the failure noted', async () => {
		const { logId } = await deliverMail({ from: customer(zone.none), to: mailbox.address, subject: 'Policy none' });
		await openMessage(page, logId);
		expect(await page.locator('[data-verdict]').first().innerText()).toContain('Accepted');
		await problem(page, 'dmarc-none').getByRole('heading', { name: `DMARC failed, but ${zone.none}’s policy is p=none` }).waitFor();
		expect(await problem(page, 'dmarc-none').innerText()).toContain('accepted and the failure recorded');
		expect(await problem(page, 'delivered').count()).toBe(0);
	});

	it('for a manual forward refused by the mailbox: native forwarding and the mailbox setting', async () => {
		const { logId } = await deliverMail({
			from: customer(zone.pass),
			to: mailbox.address,
			subject: 'Fwd: Order 1234',
			body:
				'Can you help this customer?\r\n\r\n---------- Forwarded message ---------\r\nFrom: Customer <someone@shop.example>\r\n' +
				'Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nSubject: Order 1234\r\nTo: <sales@shop.example>\r\n\r\nWhere is my order?\r\n'
		});
		await openMessage(page, logId);
		expect(await section(page, 'Forwarding').innerText()).toContain('Manual forward');
		const panel = problem(page, 'manual-forward');
		await panel.getByRole('heading', { name: 'Refused: forwarded by hand' }).waitFor();
		const text = await panel.innerText();
		expect(text).toContain('(native) forwarding');
		expect(text).toContain('keeps the original sender, recipient and signatures');
		expect(text).toContain('arrives as a new message from the person who forwarded it');
		expect(text).toMatch(/Manually forwarded mail\s+to\s+Accept and flag/);
		expect(await panel.getByRole('link', { name: /the mailbox/ }).getAttribute('href')).toBe(`/mailboxes/${mailbox.id}`);
	});

	it('for a recipient that is not a service address, or an alias of one', async () => {
		const stranger = `nobody-${randomBytes(4).toString('hex')}@helpdesk.example`;
		const unknown = await deliverMail({ from: customer(zone.pass), to: stranger, subject: 'Wrong address' });
		await openMessage(page, unknown.logId);
		expect(await section(page, 'Delivery').innerText()).toContain(`None: ${stranger} is not a service address`);
		const panel = problem(page, 'not-service-address');
		await panel.getByRole('heading', { name: 'Refused: not a service address' }).waitFor();
		expect(await panel.innerText()).toContain('standard mailbox, not an alias');
		expect(await panel.getByRole('link', { name: 'mailboxes list' }).getAttribute('href')).toBe('/');

		const alias = mailbox.address.replace('@', '+orders@');
		const aliased = await deliverMail({ from: customer(zone.pass), to: alias, subject: 'Alias' });
		await openMessage(page, aliased.logId);
		const aliasPanel = problem(page, 'alias');
		await aliasPanel.getByRole('heading', { name: 'Refused: sent to an alias' }).waitFor();
		expect(await aliasPanel.innerText()).toContain('aliases cause delivery problems');
	});

	it('for garbled text: which senders send it, this one highlighted, and the UTF-8 advice', async () => {
		const mislabelled = Buffer.from('Un caf\xe9 na\xefve, s\xe9ance \xe0 10 h.\r\n', 'latin1');
		const sender = customer(zone.pass);
		const other = customer(zone.pass);
		const garbled = { contentType: 'text/plain; charset=utf-8', body: new Uint8Array(mislabelled) };
		const first = await deliverMail({ from: sender, to: mailbox.address, subject: 'Garbled 1', ...garbled });
		await deliverMail({ from: sender, to: mailbox.address, subject: 'Garbled 2', ...garbled });
		await deliverMail({ from: other, to: mailbox.address, subject: 'Garbled 3', ...garbled });
		await openMessage(page, first.logId);

		const panel = problem(page, 'garbled');
		await panel.getByRole('heading', { name: 'Garbled text' }).waitFor();
		const text = await panel.innerText();
		expect(text).toContain('The system does not alter content');
		expect(text).toContain('mislabels the character set');
		expect(text).toContain('use UTF-8');
		const senders = panel.getByTestId('garbled-senders');
		await senders.getByText(`2 of 3 garbled messages came from this message’s sender, ${sender}.`).waitFor();
		const mine = senders.locator(`li[data-sender="${sender}"]`);
		expect(await mine.getAttribute('class')).toContain('current');
		expect(await mine.innerText()).toContain('this message’s sender');
		expect(await mine.getByRole('link').getAttribute('href')).toBe(`/log?from=${encodeURIComponent(sender)}`);
		const theirs = senders.locator(`li[data-sender="${other}"]`);
		expect(await theirs.getAttribute('class')).not.toContain('current');
		expect(await section(page, 'Encoding').innerText()).toContain('Garbled');
		await maybeScreenshot(page, 'message-garbled');
	});

	it('for a blank message: blank as sent, or attachments without a body', async () => {
		const empty = await deliverMail({ from: customer(zone.pass), to: mailbox.address, subject: 'Blank', body: '' });
		await openMessage(page, empty.logId);
		const panel = problem(page, 'blank');
		await panel.getByRole('heading', { name: 'Blank message' }).waitFor();
		expect(await panel.innerText()).toContain('The original message as received had no body text');
		await panel.getByRole('link', { name: 'Original message' }).waitFor();

		const boundary = 'mailgate-e2e';
		const withAttachments = await deliverMail({
			from: customer(zone.pass),
			to: mailbox.address,
			subject: 'Only attachments',
			contentType: `multipart/mixed; boundary="${boundary}"`,
			body:
				`--${boundary}\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="invoice.pdf"\r\n` +
				`Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n` +
				`--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n` +
				`Content-Transfer-Encoding: base64\r\n\r\nYWJj\r\n--${boundary}--\r\n`
		});
		await openMessage(page, withAttachments.logId);
		expect(await problem(page, 'blank').innerText()).toContain('It arrived with 2 attachments');
		expect(await problem(page, 'blank').innerText()).toContain('a filter on the way (content filtering, keyword replacement, attachment unpacking)');
		const content = await section(page, 'Content').innerText();
		expect(content).toMatch(/invoice\.pdf\s+application\/pdf · 9 bytes/);
		expect(content).toMatch(/\(unnamed\)\s+application\/octet-stream · 3 bytes/);
	});
});
