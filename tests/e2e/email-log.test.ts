/**
 * The email log page (SPEC §5.6, §7) on a log filled through the real email() handler: filters
 * kept in the URL, keyset "Load more", the Worker's field errors by their fields, and the copy
 * kept on this device for reading the log offline.
 */
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
	DESKTOP,
	adminToken,
	baseUrl,
	callApi,
	describedBy,
	field,
	installedPage,
	maybeScreenshot,
	midWordBreaks,
	scrollWidth,
	storedKeys,
	uniqueAddress,
	useBrowser
} from './helpers';
import { deliverMail, headerOf, publishZone, receivedMail, SENDER_IP, seedPeerMailbox, seedServiceMailbox } from './mail';

const browser = useBrowser();

const dmarcReason = (domain: string) =>
	`550 5.7.1 Unauthenticated email from ${domain} is not accepted due to domain's DMARC policy`;

type Delivered = Awaited<ReturnType<typeof deliverMail>>;

let zone: Awaited<ReturnType<typeof publishZone>>;
let desk: { id: string; address: string };
let other: { id: string; address: string };
/** To `desk`, in delivery order (the log lists them the other way round). */
let accepted: Delivered, rejected: Delivered, quarantined: Delivered;
let toOther: Delivered;
let strangerAddress: string;
let toStranger: Delivered;

beforeAll(async () => {
	zone = await publishZone();
	[desk, other] = await Promise.all([seedServiceMailbox('Log desk'), seedServiceMailbox('Other desk')]);
	// One at a time, so that each is received after the one before.
	accepted = await deliverMail({ from: `alice@${zone.pass}`, to: desk.address, subject: 'Order 1001 has not arrived' });
	rejected = await deliverMail({ from: `mallory@${zone.reject}`, to: desk.address, subject: 'Your invoice' });
	quarantined = await deliverMail({ from: `quinn@${zone.quarantine}`, to: desk.address, subject: '' });
	toOther = await deliverMail({ from: `bob@${zone.pass}`, to: other.address, subject: 'Refund please' });
	strangerAddress = uniqueAddress('nobody');
	toStranger = await deliverMail({ from: `carol@${zone.pass}`, to: strangerAddress, subject: 'Hello?' });
});

/** Signed in (the token where the sign-in link leaves it); shared by the tests that need nothing of their own. */
let shared: BrowserContext | null = null;
async function signedIn(options: { timezoneId?: string } = {}): Promise<BrowserContext> {
	const context = await browser.current.newContext({ baseURL: baseUrl, viewport: DESKTOP, ...options });
	context.setDefaultTimeout(10_000);
	await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
	return context;
}

/** A new page on `path` once the log has opened (in the shared context unless given one). */
async function openLog(path = '/log', context?: BrowserContext): Promise<Page> {
	shared ??= await signedIn();
	const page = await (context ?? shared).newPage();
	onTestFinished(() => page.close().catch(() => {}));
	await page.goto(path);
	await page.getByRole('heading', { level: 1, name: 'Email log' }).waitFor();
	return page;
}

afterAll(async () => {
	await shared?.close().catch(() => {});
});

const rows = (page: Page) => page.locator('[data-log-id]');
const rowIds = (page: Page) => rows(page).evaluateAll((list) => list.map((row) => row.getAttribute('data-log-id')));
const row = (page: Page, id: string) => page.locator(`[data-log-id="${id}"]`);
const status = (page: Page) => page.getByRole('status').filter({ hasText: /deliver|Loading the email log|not on this device|need attention|could not/ });
const apply = (page: Page) => page.getByRole('button', { name: 'Apply filters' }).click();
const search = (page: Page) => new URL(page.url()).searchParams;

/** Waits until the log shows exactly these rows, in this order. */
async function expectRows(page: Page, ids: string[]) {
	await expect.poll(() => rowIds(page)).toEqual(ids);
}

describe('email log', () => {
	it('lists a mailbox’s deliveries newest first, each with its verdict, sender, subject, time, badges and reason', async () => {
		const page = await openLog();
		expect(await page.getByRole('link', { name: 'Email log', exact: true }).getAttribute('aria-current')).toBe('page');
		await field(page, 'Mailbox').selectOption(desk.id);
		await apply(page);
		await page.waitForURL((url) => url.searchParams.get('mailboxId') === desk.id);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		await expect.poll(() => status(page).textContent()).toBe('3 deliveries shown, newest first.');

		const refused = row(page, rejected.logId);
		expect(await refused.locator('[data-verdict]').first().textContent()).toContain('Rejected');
		expect(await refused.textContent()).toContain(`mallory@${zone.reject}`);
		expect(await refused.textContent()).toContain('Customer');
		expect(await refused.textContent()).toContain(desk.address);
		expect(await refused.locator('[data-auth="dmarc"]').textContent()).toBe('DMARC fail');
		expect(await refused.locator('.reason').textContent()).toBe(dmarcReason(zone.reject));
		const link = refused.getByRole('link', { name: 'Your invoice' });
		expect(await link.getAttribute('href')).toBe(`/log/${rejected.logId}`);
		const { body } = await fetchItem(rejected.messageId);
		expect(await refused.locator('time').getAttribute('title')).toBe(body.receivedAt);
		expect(await refused.locator('time').getAttribute('datetime')).toBe(body.receivedAt);

		const kept = row(page, accepted.logId);
		expect(await kept.locator('[data-verdict]').first().textContent()).toContain('Accepted');
		expect(await kept.locator('[data-auth="dmarc"]').textContent()).toBe('DMARC pass');
		expect(await kept.locator('.reason').count()).toBe(0);
		const held = row(page, quarantined.logId);
		expect(await held.locator('[data-verdict]').first().textContent()).toContain('Quarantined');
		expect(await held.getByRole('link').textContent()).toBe('(no subject)');

		// Verdict on top of the mailbox; both stay in the URL and survive a reload.
		await field(page, 'Verdict').selectOption('rejected');
		await apply(page);
		await page.waitForURL((url) => url.searchParams.get('verdict') === 'rejected');
		await expectRows(page, [rejected.logId]);
		await page.reload();
		await expectRows(page, [rejected.logId]);
		expect(await field(page, 'Mailbox').inputValue()).toBe(desk.id);
		expect(await field(page, 'Verdict').inputValue()).toBe('rejected');
		await expect.poll(() => status(page).textContent()).toBe('1 delivery shown, newest first.');
	});

	it('shows a new delivery without a reload while the log is open (SPEC §16: lists stay live)', async () => {
		const page = await openLog(`/log?mailboxId=${other.id}`);
		await expectRows(page, [toOther.logId]);
		await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
		const later = await deliverMail({ from: `erin@${zone.none}`, to: other.address, subject: 'Another question' });
		await expect.poll(() => rowIds(page), { timeout: 20_000, interval: 500 }).toEqual([later.logId, toOther.logId]);
		expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
	});

	it('filters by sender address (any case) and by sender domain, with or without @', async () => {
		const page = await openLog(`/log?mailboxId=${desk.id}`);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		await field(page, 'Sender').fill(`MALLORY@${zone.reject.toUpperCase()}`);
		await apply(page);
		await expectRows(page, [rejected.logId]);

		await field(page, 'Sender').fill(zone.quarantine);
		await apply(page);
		await expectRows(page, [quarantined.logId]);

		// A domain across all mailboxes: the zone is this file's own.
		await field(page, 'Mailbox').selectOption('');
		await field(page, 'Sender').fill(`@${zone.pass}`);
		await apply(page);
		await expectRows(page, [toStranger.logId, toOther.logId, accepted.logId]);
		expect(search(page).get('from')).toBe(`@${zone.pass}`);
		expect(search(page).has('mailboxId')).toBe(false);
	});

	it('shows deliveries refused because the recipient is not a service address', async () => {
		const page = await openLog();
		await field(page, 'Mailbox').selectOption({ label: 'Not a service address' });
		await field(page, 'Sender').fill(`carol@${zone.pass}`);
		await apply(page);
		await expectRows(page, [toStranger.logId]);
		expect(search(page).get('mailboxId')).toBe('none');
		const refused = row(page, toStranger.logId);
		expect(await refused.textContent()).toContain(`${strangerAddress}: not a service address`);
		expect(await refused.locator('[data-verdict]').first().textContent()).toContain('Rejected');
	});

	it('finds one message by its Message-ID pasted with or without angle brackets', async () => {
		const page = await openLog();
		await field(page, 'Message-ID').fill(`  <${rejected.messageId}>  `);
		await apply(page);
		await expectRows(page, [rejected.logId]);
		expect(search(page).get('messageId')).toBe(rejected.messageId);

		await field(page, 'Message-ID').fill(toOther.messageId);
		await apply(page);
		await expectRows(page, [toOther.logId]);

		// A link that carries the brackets finds it too.
		await page.goto(`/log?messageId=${encodeURIComponent(`<${accepted.messageId}>`)}`);
		await expectRows(page, [accepted.logId]);
	});

	it('filters by date and time in the browser’s time zone, sent with its offset', async () => {
		const context = await signedIn({ timezoneId: 'Asia/Kolkata' });
		const page = await openLog(`/log?mailboxId=${desk.id}`, context);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		const hourAway = (hours: number) => localInput(new Date(Date.now() + hours * 3_600_000), 'Asia/Kolkata');

		await field(page, 'Received from').fill(hourAway(-1));
		await field(page, 'Received before').fill(hourAway(1));
		await apply(page);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		const since = search(page).get('since')!;
		// India is UTC+05:30 all year: the offset, its "+" (kept by the URL) and its half hour all reach the API.
		expect(since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\+05:30$/);
		expect(Math.abs(new Date(since).getTime() - (Date.now() - 3_600_000))).toBeLessThan(3 * 60_000);

		await field(page, 'Received from').fill(hourAway(1));
		await field(page, 'Received before').fill(hourAway(2));
		await apply(page);
		await page.getByRole('heading', { name: 'No deliveries found' }).waitFor();
		expect(await rows(page).count()).toBe(0);
		// The mailbox is named by its address once the mailbox list has loaded on this device.
		await expect.poll(() => page.locator('.empty').textContent()).toContain(`mail to ${desk.address}`);
		expect(await page.locator('.empty').textContent()).toContain('received from');

		// To the second, through a link: from the rejected message on.
		const { body } = await fetchItem(rejected.messageId);
		await page.goto(`/log?mailboxId=${desk.id}&since=${encodeURIComponent(body.receivedAt)}`);
		await expectRows(page, [quarantined.logId, rejected.logId]);
		await page.goto(`/log?mailboxId=${desk.id}&until=${encodeURIComponent(body.receivedAt)}`);
		await expectRows(page, [accepted.logId]);
		await context.close();
	});

	it('shows the Worker’s field errors by their fields, and checks the time range before asking', async () => {
		const page = await openLog('/log?verdict=maybe&since=yesterday');
		await page.getByRole('alert').filter({ hasText: 'Some filters need attention' }).waitFor();
		expect(await describedBy(field(page, 'Verdict'))).toContain('Use accepted, quarantined or rejected');
		expect(await describedBy(field(page, 'Received from'))).toContain('Use an ISO 8601 date and time');
		expect(await field(page, 'Received from').getAttribute('aria-invalid')).toBe('true');
		expect(await rows(page).count()).toBe(0);

		// Fixing them clears the errors.
		await field(page, 'Verdict').selectOption('rejected');
		await field(page, 'Received from').fill('');
		await field(page, 'Mailbox').selectOption(desk.id);
		await apply(page);
		await expectRows(page, [rejected.logId]);
		expect(await field(page, 'Verdict').getAttribute('aria-invalid')).toBeNull();

		// "Before" earlier than "from": said by the field, nothing is asked.
		const url = page.url();
		await field(page, 'Received from').fill('2026-03-02T10:00');
		await field(page, 'Received before').fill('2026-03-02T09:00');
		await apply(page);
		expect(await describedBy(field(page, 'Received before'))).toContain('Choose a time after “Received from”');
		expect(page.url()).toBe(url);
	});

	it('loads 50 at a time and appends the next page with "Load more"', async () => {
		const busy = await seedServiceMailbox('Busy desk');
		const delivered: string[] = [];
		for (let batch = 0; batch < 6; batch++) {
			const size = batch < 5 ? 10 : 3;
			const sent = await Promise.all(
				Array.from({ length: size }, (_, i) =>
					deliverMail({ from: `customer${batch * 10 + i}@${zone.pass}`, to: busy.address, subject: `Question ${batch * 10 + i}` })
				)
			);
			delivered.push(...sent.map((item) => item.logId));
		}
		const page = await openLog(`/log?mailboxId=${busy.id}`);
		await expect.poll(() => rows(page).count()).toBe(50);
		await expect.poll(() => status(page).textContent()).toBe('50 deliveries shown, newest first; more can be loaded.');
		const first = await rowIds(page);
		await page.getByRole('button', { name: 'Load more' }).click();
		await expect.poll(() => rows(page).count()).toBe(53);
		const all = await rowIds(page);
		expect(all.slice(0, 50)).toEqual(first);
		expect(new Set(all).size).toBe(53);
		expect([...all].sort()).toEqual([...delivered].sort());
		// Newest first all the way down.
		const times = await rows(page).locator('time').evaluateAll((list) => list.map((time) => time.getAttribute('datetime')!));
		expect(times).toEqual([...times].sort().reverse());
		expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
		await expect.poll(() => status(page).textContent()).toBe('53 deliveries shown, newest first.');

		// A new filter starts again at the first page.
		await field(page, 'Sender').fill(`customer7@${zone.pass}`);
		await apply(page);
		await expect.poll(() => rows(page).count()).toBe(1);
	});

	it('offline, shows the log as last loaded with its time, and says when a view was never loaded', async () => {
		const { context, page } = await installedPage(browser.current);
		await page.getByRole('link', { name: 'Email log', exact: true }).click();
		await field(page, 'Mailbox').selectOption(desk.id);
		await apply(page);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		await expect.poll(async () => (await storedKeys(page, 'mailgate-log', 'pages')).some((key) => key.includes(desk.id))).toBe(true);

		await context.setOffline(true);
		await page.reload();
		const notice = page.locator('[data-stale]');
		await notice.waitFor();
		expect(await notice.innerText()).toMatch(/You’re offline\. Showing the log as loaded at .+; it may be stale\./);
		await expectRows(page, [quarantined.logId, rejected.logId, accepted.logId]);
		expect(await field(page, 'Mailbox').inputValue()).toBe(desk.id);
		await maybeScreenshot(page, 'log-offline');

		// A view this device never loaded.
		await field(page, 'Verdict').selectOption('quarantined');
		await apply(page);
		await page.getByText('has not been loaded on this device yet').waitFor();
		expect(await rows(page).count()).toBe(0);

		// Back online, the live log replaces the notice.
		await context.setOffline(false);
		await expectRows(page, [quarantined.logId]);
		expect(await notice.count()).toBe(0);
		await context.close();
	});

	it('labels an SMTP test, a flow check probe and a bounce (SPEC §16): badges, headings, the kind filter, not counted in health', async () => {
		const internal = await seedPeerMailbox('Internal desk');
		const customerMail = await deliverMail({ from: `dora@${zone.pass}`, to: internal.address, subject: 'A real question' });
		// The SMTP test to its default recipient (the service address), and a flow check's probe,
		// both through the SMTP peer; what the peer received comes back through the email endpoint.
		const test = await callApi('POST', `/api/mailboxes/${internal.id}/smtp-test`, {});
		expect(test.body.ok).toBe(true);
		const testLog = await handBack(await receivedFor(internal.address, 'Mailgate SMTP test'), internal.address);
		expect((await callApi('POST', `/api/mailboxes/${internal.id}/flow-check`)).status).toBe(202);
		const probeLog = await handBack(await receivedFor(internal.address, 'Mailgate mail flow check'), internal.address);
		// A reply, and a mailer's report that it bounced.
		const reply = await callApi('POST', `/api/mailboxes/${internal.id}/outbound`, { to: ['gone@example.org'], subject: 'Re: A real question', text: 'Here is the answer.' });
		expect(reply.status).toBe(202);
		const bounce = await deliverMail({
			from: 'MAILER-DAEMON@mx.example.org',
			to: internal.address,
			subject: 'Undelivered Mail Returned to Sender',
			contentType: 'multipart/report; report-type=delivery-status; boundary="dsn"',
			body: bounceReport('dsn', reply.body.messageId, 'gone@example.org', internal.address)
		});
		expect(bounce.rejection).toBeNull();

		const page = await openLog(`/log?mailboxId=${internal.id}`);
		await expectRows(page, [bounce.logId, probeLog, testLog, customerMail.logId]);
		const kindOf = (id: string) => row(page, id).locator('.badge[data-kind]').innerText();
		expect(await kindOf(testLog)).toContain('SMTP test');
		expect(await kindOf(probeLog)).toContain('Flow check probe');
		expect(await kindOf(bounce.logId)).toContain('Bounce');
		expect(await row(page, customerMail.logId).locator('.badge[data-kind]').count()).toBe(0);
		await maybeScreenshot(page, 'log-internal-mail', { viewportOnly: true });

		// The kind filter: customer mail only, then SMTP tests only; kept in the URL.
		await field(page, 'Kind of mail').selectOption('message');
		await apply(page);
		await page.waitForURL((url) => url.searchParams.get('kind') === 'message');
		await expectRows(page, [customerMail.logId]);
		await field(page, 'Kind of mail').selectOption('test');
		await apply(page);
		await expectRows(page, [testLog]);
		await expect.poll(() => status(page).textContent()).toContain('1 delivery shown');

		// Their own headings; the bounce's names the reply and links to it.
		await page.goto(`/log/${testLog}`);
		await page.getByRole('heading', { level: 1, name: 'Mailgate SMTP test' }).waitFor();
		await page.goto(`/log/${probeLog}`);
		await page.getByRole('heading', { level: 1, name: 'Mail flow check probe' }).waitFor();
		await page.goto(`/log/${bounce.logId}`);
		const heading = page.getByRole('heading', { level: 1, name: 'Bounce for Re: A real question' });
		await heading.waitFor();
		expect(await heading.getByRole('link').getAttribute('href')).toBe(`/sent/${reply.body.id}`);
		await maybeScreenshot(page, 'log-bounce-heading', { viewportOnly: true });

		// Mailbox health counts the customer's message only.
		await page.goto(`/mailboxes/${internal.id}`);
		const month = page.locator(`[data-mailbox-health="${internal.id}"] [data-window="30d"]`);
		await expect.poll(() => month.locator('[data-count="accepted"] dd').textContent()).toBe('1');
		expect(await page.locator(`[data-mailbox-health="${internal.id}"] [data-counts-note]`).innerText()).toContain('Customer mail only');
	});

	it('on a 390×844 phone shows a log entry in the first screen, the filters folded behind one button; fits without sideways scrolling', async () => {
		const phone = { width: 390, height: 844 };
		const context = await browser.current.newContext({ baseURL: baseUrl, viewport: phone });
		onTestFinished(() => context.close().catch(() => {}));
		await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
		const page = await openLog(`/log?mailboxId=${desk.id}&verdict=accepted`, context);
		await expectRows(page, [accepted.logId]);
		// SPEC §16: the first entry is within the first screen; the form is folded, saying how many filters are on.
		const first = await row(page, accepted.logId).boundingBox();
		expect(first!.y + 40).toBeLessThanOrEqual(phone.height);
		const fold = page.getByRole('button', { name: /^Filters/ });
		expect(await fold.innerText()).toMatch(/Filters\s*2 on/);
		expect(await fold.getAttribute('aria-expanded')).toBe('false');
		expect(await field(page, 'Verdict').isVisible()).toBe(false);
		await maybeScreenshot(page, 'log-phone', { viewportOnly: true });

		// One tap opens it, every field within the screen.
		await fold.click();
		expect(await fold.getAttribute('aria-expanded')).toBe('true');
		expect(await scrollWidth(page)).toBeLessThanOrEqual(phone.width);
		for (const label of ['Mailbox', 'Verdict', 'Kind of mail', 'Sender', 'Message-ID', 'Received from', 'Received before']) {
			await expectWithin(field(page, label), phone.width);
		}
		expect(await field(page, 'Verdict').inputValue()).toBe('accepted');
		await maybeScreenshot(page, 'log-phone-filters', { viewportOnly: true });

		// A filter the Worker refused is never folded away.
		await page.goto('/log?verdict=maybe');
		await page.getByRole('alert').filter({ hasText: 'Some filters need attention' }).waitFor();
		expect(await field(page, 'Verdict').isVisible()).toBe(true);

		// Addresses wrap only between their parts, never in the middle of a word (SPEC §16).
		const long = await deliverMail({ from: `customersupportescalationsteamemea@${zone.none}`, to: other.address, subject: 'Long sender' });
		await page.goto(`/log?mailboxId=${other.id}`);
		await row(page, long.logId).waitFor();
		const addresses = await row(page, long.logId).locator('.address').all();
		expect(addresses.length).toBeGreaterThanOrEqual(2);
		for (const address of addresses) expect(await midWordBreaks(address), await address.innerText()).toEqual([]);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(phone.width);
	});
});

/** The message the SMTP peer received for `to` with this subject (waiting for it a little). */
async function receivedFor(to: string, subject: string): Promise<string> {
	let found: string | undefined;
	await expect
		.poll(async () => (found = (await receivedMail()).find((mail) => mail.to.includes(to) && headerOf(mail, 'Subject') === subject)?.data), { timeout: 15_000 })
		.toBeDefined();
	return found!;
}

/** Hands what the SMTP peer received back to email(), as Email Routing would, and returns its log id. */
async function handBack(data: string, to: string): Promise<string> {
	const hop = `Received: from smtp.helpdesk.example (smtp.helpdesk.example [${SENDER_IP}]) by mx.cloudflare.net; Tue, 24 Nov 2026 09:00:01 +0000\r\n`;
	const url = `${baseUrl}/cdn-cgi/handler/email?from=${encodeURIComponent(to)}&to=${encodeURIComponent(to)}`;
	const response = await fetch(url, { method: 'POST', body: hop + data });
	expect(response.status, await response.clone().text()).toBe(200);
	const messageId = /^Message-ID: <([^>]+)>/im.exec(data)![1]!;
	const log = await callApi('GET', `/api/messages?messageId=${encodeURIComponent(messageId)}`);
	return log.body.items[0].id;
}

/** An RFC 3464 report that `recipient` of the message `messageId` (sent from `from`) could not be reached. */
function bounceReport(boundary: string, messageId: string, recipient: string, from: string): string {
	return [
		`--${boundary}`,
		'Content-Type: text/plain; charset=us-ascii',
		'',
		'Your message could not be delivered.',
		'',
		`--${boundary}`,
		'Content-Type: message/delivery-status',
		'',
		'Reporting-MTA: dns; mx.example.org',
		'',
		`Final-Recipient: rfc822; ${recipient}`,
		'Action: failed',
		'Status: 5.1.1',
		'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
		'',
		`--${boundary}`,
		'Content-Type: text/rfc822-headers',
		'',
		`From: Internal desk <${from}>`,
		`To: ${recipient}`,
		'Subject: Re: A real question',
		`Message-ID: <${messageId}>`,
		'',
		`--${boundary}--`,
		''
	].join('\r\n');
}

async function expectWithin(control: Locator, width: number) {
	const box = await control.boundingBox();
	expect(box!.x + box!.width).toBeLessThanOrEqual(width);
}

/** The log's list item for a Message-ID, as the API gives it. */
async function fetchItem(messageId: string): Promise<{ body: { receivedAt: string } }> {
	const { body } = await callApi('GET', `/api/messages?messageId=${encodeURIComponent(messageId)}`);
	return { body: body.items[0] };
}

/** A datetime-local value for `date` as a browser in `timeZone` shows it. */
function localInput(date: Date, timeZone: string): string {
	const parts = Object.fromEntries(
		new Intl.DateTimeFormat('en-GB', {
			timeZone,
			year: 'numeric',
			month: '2-digit',
			day: '2-digit',
			hour: '2-digit',
			minute: '2-digit',
			hourCycle: 'h23'
		})
			.formatToParts(date)
			.map((part) => [part.type, part.value])
	);
	return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
