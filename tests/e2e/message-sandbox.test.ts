/**
 * A message's HTML on the message page (SPEC §5.6): rendered in a `sandbox=""` srcdoc frame under
 * its own CSP, so nothing in it runs, navigates, submits or loads, even HTML the Worker's sanitiser
 * never saw; remote images load only after "Show remote images".
 */
import { randomBytes } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { callApi, newPage, PHONE, scrollWidth, signIn, useBrowser } from './helpers';
import { deliverMail, publishZone, seedServiceMailbox } from './mail';

const browser = useBrowser();
let zone: Awaited<ReturnType<typeof publishZone>>;
let mailbox: { id: string; address: string };

beforeAll(async () => {
	zone = await publishZone();
	mailbox = await seedServiceMailbox('Sandbox desk');
});

const FRAME = 'iframe[title="Message content (HTML)"]';
const STRICT_POLICY = `default-src 'none'; style-src 'unsafe-inline'; img-src data:`;
/** A 1×1 transparent GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Everything a hostile message tries: each would set `__pwned`, change the title or open a dialog. */
const HOSTILE_HTML =
	`<html><head><meta http-equiv="refresh" content="0;url=https://evil.test/refresh">` +
	`<script>parent.document.title='pwned'; top.__pwned = 1; alert('script')</script></head><body>` +
	`<p>Hostile body marker</p>` +
	`<img src=x onerror="top.__pwned = 2; alert('onerror')">` +
	`<svg onload="top.__pwned = 3; alert('svg')"><circle r="5"></circle></svg>` +
	`<a href="javascript:top.__pwned = 4; alert('link')">click me</a>` +
	`<form action="https://evil.test/form" method="post"><input name="q" value="secret"><button>Send form</button></form>` +
	`<img alt="remote" src="https://images.test/pixel.gif" width="1" height="1">` +
	`</body></html>`;

/** Counts (and answers) requests to the fake image host and the hostile host. */
async function watchHosts(context: BrowserContext): Promise<{ images: string[]; evil: string[] }> {
	const seen = { images: [] as string[], evil: [] as string[] };
	await context.route('https://images.test/**', (route) => {
		seen.images.push(route.request().url());
		return route.fulfill({ status: 200, contentType: 'image/gif', body: PIXEL });
	});
	await context.route('https://evil.test/**', (route) => {
		seen.evil.push(route.request().url());
		return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>evil</p>' });
	});
	return seen;
}

function recordDialogs(page: Page): string[] {
	const dialogs: string[] = [];
	page.on('dialog', (dialog) => {
		dialogs.push(dialog.message());
		void dialog.dismiss();
	});
	return dialogs;
}

/** What the hostile code would have changed in the app's window. */
const pwned = (page: Page) => page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);

async function deliverHostile(subject: string) {
	return deliverMail({
		from: `customer-${randomBytes(3).toString('hex')}@${zone.pass}`,
		to: mailbox.address,
		subject,
		contentType: 'text/html; charset=utf-8',
		body: HOSTILE_HTML
	});
}

describe('the HTML of a message', () => {
	it('is shown in a sandbox="" frame under a strict CSP, and nothing in it runs', async () => {
		const { logId } = await deliverHostile('Hostile HTML');
		const { context, page } = await newPage(browser.current, PHONE);
		const seen = await watchHosts(context);
		const dialogs = recordDialogs(page);
		await signIn(page);
		await page.goto(`/log/${logId}`);
		const frame = page.locator(FRAME);
		await frame.waitFor();

		expect(await frame.getAttribute('sandbox')).toBe('');
		expect(await frame.getAttribute('referrerpolicy')).toBe('no-referrer');
		const srcdoc = (await frame.getAttribute('srcdoc')) ?? '';
		expect(srcdoc.startsWith(`<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${STRICT_POLICY}">`)).toBe(true);

		const content = page.frameLocator(FRAME);
		await content.getByText('Hostile body marker').waitFor();
		await content.getByText('click me').click();
		// The sanitiser's layer: the active elements are gone before the frame sees them.
		expect(await content.locator('script, svg, form, meta[http-equiv="refresh"], [onerror], [onload]').count()).toBe(0);
		await page.waitForTimeout(500);

		expect(await pwned(page)).toBeUndefined();
		expect(await page.title()).toBe('Hostile HTML · Email log · Mailgate');
		expect(dialogs).toEqual([]);
		expect(seen.evil).toEqual([]);
		expect(seen.images).toEqual([]);
		// Still the message document: no refresh, link or form navigated the frame.
		expect(page.frames().find((f) => f.parentFrame() === page.mainFrame())?.url()).toBe('about:srcdoc');
		expect(await content.getByText('Hostile body marker').isVisible()).toBe(true);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await context.close();
	});

	it('holds without the Worker’s sanitiser: raw scripts and handlers from the API do not run', async () => {
		const { logId } = await deliverMail({ from: `customer@${zone.pass}`, to: mailbox.address, subject: 'Unsanitised' });
		const detail = (await callApi('GET', `/api/messages/${logId}`)).body as Record<string, unknown>;
		const raw =
			`<script>parent.__pwned = 1; top.__pwned = 1; document.title = 'pwned'; parent.document.title = 'pwned'; alert('script')</script>` +
			`<img src=x onerror="parent.__pwned = 2; alert('onerror')">` +
			`<svg onload="parent.__pwned = 3"></svg>` +
			`<iframe src="javascript:parent.parent.__pwned = 5"></iframe>` +
			`<object data="https://evil.test/object"></object>` +
			`<img src="https://images.test/raw.gif">` +
			`<a href="javascript:parent.__pwned = 4">click me</a>` +
			`<form action="https://evil.test/form"><button>Send form</button></form>` +
			`<meta http-equiv="refresh" content="1;url=https://evil.test/refresh">` +
			`<p>Raw marker</p>`;
		const { context, page } = await newPage(browser.current);
		const seen = await watchHosts(context);
		const dialogs = recordDialogs(page);
		await page.route(`**/api/messages/${logId}`, (route) => route.fulfill({ status: 200, json: { ...detail, html: raw } }));
		await signIn(page);
		await page.goto(`/log/${logId}`);
		const content = page.frameLocator(FRAME);
		await content.getByText('Raw marker').waitFor();
		await content.getByText('click me').click();
		await content.getByRole('button', { name: 'Send form' }).click();
		// Past the refresh's one second: the parent's frame-src keeps the frame off other sites.
		await page.waitForTimeout(1_500);

		expect(await pwned(page)).toBeUndefined();
		expect(await page.title()).toBe('Unsanitised · Email log · Mailgate');
		expect(dialogs).toEqual([]);
		expect(seen.evil).toEqual([]);
		expect(seen.images).toEqual([]);
		await context.close();
	});

	it('loads remote images only after "Show remote images", and only over https', async () => {
		const { logId } = await deliverMail({
			from: `customer@${zone.pass}`,
			to: mailbox.address,
			subject: 'Newsletter with images',
			contentType: 'text/html; charset=utf-8',
			body:
				'<p>Our news</p><img alt="banner" src="https://images.test/banner.gif" width="10" height="10">' +
				'<div style="background-image: url(https://images.test/background.gif)">Styled</div>' +
				'<img alt="insecure" src="http://images.test/insecure.gif">'
		});
		const { context, page } = await newPage(browser.current);
		const seen = await watchHosts(context);
		const insecure: string[] = [];
		await context.route('http://images.test/**', (route) => {
			insecure.push(route.request().url());
			return route.fulfill({ status: 200, contentType: 'image/gif', body: PIXEL });
		});
		await signIn(page);
		await page.goto(`/log/${logId}`);
		const content = page.frameLocator(FRAME);
		await content.getByText('Our news').waitFor();
		const notice = page.getByTestId('remote-images');
		expect(await notice.innerText()).toContain('3 remote images blocked.');
		await page.waitForTimeout(300);
		expect(seen.images).toEqual([]);

		await notice.getByRole('button', { name: 'Show remote images' }).click();
		await expect.poll(() => seen.images.length).toBe(2);
		expect(seen.images).toEqual(
			expect.arrayContaining(['https://images.test/banner.gif', 'https://images.test/background.gif'])
		);
		expect(await page.locator(FRAME).getAttribute('srcdoc')).toContain(`img-src data: https:`);
		await expect.poll(() => content.locator('img[alt="banner"]').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
		expect(await notice.innerText()).toContain('1 image over plain http stay blocked.');
		expect(insecure).toEqual([]);
		await context.close();
	});
});
