/**
 * A forged bounce report on the reply's page (issue 18, SPEC §10 "Bounces"), with the real
 * queue consumer under `wrangler dev` and a real SMTP server (smtp-peer.ts): a report from an
 * ordinary sender that names a sent reply only in its own References changes nothing, and the
 * reply's page says so, with the report's claims marked unverified and never called a server's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { callApi, maybeScreenshot, newPage, PHONE, scrollWidth, signIn, unique, useBrowser } from './helpers';
import { deliverMail, publishZone, seedPeerMailbox } from './mail';

const browser = useBrowser();

/** How long the queue consumer may take: its 2-second batch window and one SMTP session. */
const DELIVERY_MS = 30_000;

let zone: Awaited<ReturnType<typeof publishZone>>;

beforeAll(async () => {
	zone = await publishZone();
});

async function outbound(id: string) {
	const { status, body } = await callApi('GET', `/api/outbound/${id}`);
	if (status !== 200) throw new Error(`Reading outbound ${id} failed: ${status}`);
	return body;
}

/** An RFC 3464 report naming an invented recipient, tied to the reply only by its own References. */
function forgedReport(boundary: string): string {
	return [
		`--${boundary}`,
		'Content-Type: text/plain; charset=us-ascii',
		'',
		'Your message could not be delivered.',
		'',
		`--${boundary}`,
		'Content-Type: message/delivery-status',
		'',
		'Reporting-MTA: dns; mx.forged.example',
		'',
		'Final-Recipient: rfc822; ceo@acme.example',
		'Action: failed',
		'Status: 5.1.1',
		'Diagnostic-Code: smtp; 550 5.1.1 Account locked, call +1 555 0100',
		'',
		`--${boundary}--`,
		''
	].join('\r\n');
}

describe('an unverified bounce report', () => {
	it('leaves the reply sent and is shown on its page as not applied', async () => {
		const desk = await seedPeerMailbox('Forgery desk');
		const created = await callApi('POST', `/api/mailboxes/${desk.id}/outbound`, {
			to: ['customer@example.org'],
			subject: unique('Your refund'),
			text: 'Your refund is on its way.'
		});
		expect(created.status).toBe(202);
		const id: string = created.body.id;
		await expect.poll(async () => (await outbound(id)).status, { timeout: DELIVERY_MS }).toBe('sent');
		const messageId: string = (await outbound(id)).messageId;

		const boundary = 'forged';
		const report = await deliverMail({
			from: `mallory@${zone.pass}`,
			to: desk.address,
			subject: 'Undelivered Mail Returned to Sender',
			extraHeaders: `In-Reply-To: <${messageId}>\r\nReferences: <${messageId}>\r\n`,
			contentType: `multipart/report; report-type=delivery-status; boundary="${boundary}"`,
			body: forgedReport(boundary)
		});
		expect(report.rejection).toBeNull();
		const item = await outbound(id);
		expect(item.status).toBe('sent');
		expect(item.unverifiedReports).toHaveLength(1);

		const { context, page } = await newPage(browser.current, PHONE);
		await signIn(page);
		await page.goto(`/sent/${id}`);
		const panel = page.getByRole('region', { name: 'Unverified bounce reports' });
		await panel.waitFor();
		const entry = panel.locator(`[data-unverified="${report.logId}"]`);
		expect(await entry.innerText()).toContain('Unverified bounce report (not applied): it named this message only in its own In-Reply-To or References');
		expect(await entry.innerText()).toContain('ceo@acme.example');
		expect(await entry.innerText()).toContain('The report says (unverified)');
		expect(await entry.innerText()).not.toContain('The server said');
		expect(await entry.getByRole('link', { name: 'Open the report' }).getAttribute('href')).toBe(`/log/${report.logId}`);
		// The reply is still sent, with no bounce panel.
		expect(await page.locator('article').getAttribute('data-status')).toBe('sent');
		expect(await page.getByRole('heading', { level: 2, name: 'Bounce', exact: true }).count()).toBe(0);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await maybeScreenshot(page, 'sent-unverified-bounce-phone');
		await context.close();
	});
});
