/**
 * The mail flow check end to end under `wrangler dev` (SPEC §13): the Worker sends the probe
 * through npm start's local SMTP server (scripts/local-smtp.mjs), which plays Cloudflare's MX and
 * hands it to the email endpoint with its hop, so the whole round trip runs here; DNS comes from
 * the loopback DoH server, where this file publishes its domains. In Chromium: the button, the
 * checklist filling in, the result, the list's status, and the last result offline.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import { LOCAL_SMTP_PASSWORD, startLocalSmtp } from '../../scripts/local-smtp.mjs';
import { adminToken, baseUrl, callApi, installedPage, mailboxRow, maybeScreenshot, PHONE, scrollWidth, seedIntegration, useBrowser } from './helpers';
import { addDnsRecords } from './mail';

const browser = useBrowser();

const ZONE = `flow${randomBytes(4).toString('hex')}.test`;
/** Routed to Cloudflare, SPF allowing the local relay's address (the probe's hop, and the SMTP host), DMARC p=reject. */
const ROUTED = `routed.${ZONE}`;
/** The same, but the MX is another provider's. */
const ELSEWHERE = `elsewhere.${ZONE}`;

let relay: Awaited<ReturnType<typeof startLocalSmtp>>;
const relayLog: string[] = [];

beforeAll(async () => {
	const txt = (value: string) => `"${value}"`;
	const common = (domain: string) => [
		{ name: domain, type: 'TXT', data: txt('v=spf1 ip4:127.0.0.1 -all') },
		{ name: `_dmarc.${domain}`, type: 'TXT', data: txt(`v=DMARC1; p=reject; rua=mailto:dmarc@${domain}`) }
	];
	await addDnsRecords([
		...['route1', 'route2', 'route3'].map((host, index) => ({ name: ROUTED, type: 'MX', data: `${10 * (index + 1)} ${host}.mx.cloudflare.net.` })),
		...common(ROUTED),
		{ name: ELSEWHERE, type: 'MX', data: '10 mx.elsewhere.example.' },
		...common(ELSEWHERE)
	]);
	relay = await startLocalSmtp({ port: 0, log: (line) => relayLog.push(line), relay: { origin: baseUrl, adminToken } });
});

afterAll(async () => {
	await relay?.close();
});

/** A mailbox at `domain` that sends through the local relay. */
async function relayedMailbox(domain: string, name = 'Flow desk'): Promise<{ id: string; address: string }> {
	const integration = await seedIntegration();
	const address = `support-${randomBytes(4).toString('hex')}@${domain}`;
	const created = await callApi('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name,
		address,
		smtp: { host: '127.0.0.1', port: relay.port, username: address, password: LOCAL_SMTP_PASSWORD, encryption: 'none' }
	});
	if (created.status !== 201) throw new Error(`Creating the mailbox failed: ${JSON.stringify(created.body)}`);
	return { id: created.body.id, address };
}

async function checkUntilDone(mailboxId: string): Promise<FlowCheck> {
	const started = await callApi('POST', `/api/mailboxes/${mailboxId}/flow-check`);
	expect(started.status).toBe(202);
	expect(started.body.status).toBe('running');
	let body: FlowCheck | null = null;
	for (let i = 0; i < 100; i++) {
		({ body } = await callApi('GET', `/api/mailboxes/${mailboxId}/flow-checks/${started.body.id}`));
		// The probe can be back before the SMTP server's 250 is (as at Cloudflare, the hand-over happens inside the dialogue).
		if (body!.status === 'done' && body!.roundTrip.smtp) return body!;
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	throw new Error(`the check did not finish in 20 seconds: ${JSON.stringify(body)}`);
}

describe('the mail flow check under wrangler dev', () => {
	it('a probe through the local relay comes back through the email endpoint with SPF and DMARC pass', async () => {
		const desk = await relayedMailbox(ROUTED);
		const check = await checkUntilDone(desk.id);
		expect(check.result).toBe('ok');
		expect(check.dns).toMatchObject({ mx: { result: 'ok' }, spf: { result: 'ok' }, dmarc: { result: 'ok' }, dkim: { result: 'unknown' } });
		expect(check.roundTrip).toMatchObject({ result: 'ok', step: 'arrived', auth: { spf: 'pass', dkim: 'none', dmarc: 'pass' }, smtp: { ok: true } });
		expect(check.roundTrip.durationMs).toBeLessThan(20_000);
		expect(relayLog).toContain(`[local smtp] handed to the Worker for ${desk.address}, as Email Routing would`);
		// Logged as a probe, with the relay's hop as the client.
		const logged = await callApi('GET', `/api/messages/${check.roundTrip.logId}`);
		expect(logged.body).toMatchObject({ kind: 'probe', verdict: 'accepted', subject: 'Mailgate mail flow check' });
		expect(logged.body.authDetails.spf.clientIp).toBe('127.0.0.1');
	});

	it('a domain whose MX is elsewhere fails, naming its MX', async () => {
		const desk = await relayedMailbox(ELSEWHERE);
		const check = await checkUntilDone(desk.id);
		expect(check.result).toBe('fail');
		expect(check.dns!.mx).toMatchObject({ result: 'fail', found: ['10 mx.elsewhere.example'] });
		expect(check.dns!.mx.says).toContain('goes to mx.elsewhere.example, not to Cloudflare Email Routing');
	});
});

describe('Check mail flow in the app', () => {
	const panel = (page: Page) => page.locator('section.flow-check');
	const item = (page: Page, part: string) => panel(page).locator(`[data-part="${part}"]`);

	it('fills the checklist in live, shows the result with the probe’s verdict, the list’s status, and the last result offline', async () => {
		const desk = await relayedMailbox(ROUTED, 'Live flow desk');
		const { context, page } = await installedPage(browser.current);
		try {
			await page.goto(`/mailboxes/${desk.id}`);
			await panel(page).getByText('Mail flow', { exact: true }).waitFor();
			const button = panel(page).getByRole('button', { name: 'Check mail flow' });
			await button.click();

			// Running: the button waits and the round trip is under way before anything is done.
			const result = panel(page).locator('[data-flow-check]');
			await result.and(page.locator('[data-status="running"]')).waitFor();
			expect(await panel(page).getByRole('button', { name: 'Checking mail flow…' }).isDisabled()).toBe(true);
			expect(['sending', 'waiting']).toContain(await item(page, 'round-trip').getAttribute('data-step'));

			await result.and(page.locator('[data-status="done"]')).waitFor({ timeout: 20_000 });
			expect(await result.getAttribute('data-result')).toBe('ok');
			const results = Object.fromEntries(
				await Promise.all(['mx', 'spf', 'dmarc', 'dkim', 'round-trip'].map(async (part) => [part, await item(page, part).getAttribute('data-result')]))
			);
			expect(results).toEqual({ mx: 'ok', spf: 'ok', dmarc: 'ok', dkim: 'unknown', 'round-trip': 'ok' });
			expect(await item(page, 'mx').innerText()).toContain('route1.mx.cloudflare.net');
			expect(await item(page, 'dmarc').innerText()).toContain('p=reject');
			const trip = await item(page, 'round-trip').innerText();
			expect(trip).toMatch(/Came back in [\d.]+ m?s/);
			expect(trip).toContain('DMARC passes on SPF alone');
			const auth = item(page, 'round-trip').locator('[data-auth]');
			expect(await auth.evaluateAll((badges) => badges.map((badge) => badge.textContent))).toEqual(['SPF pass', 'DKIM none', 'DMARC pass']);
			expect(await result.locator('[data-took]').innerText()).toMatch(/^took [\d.]+ m?s$/);
			await expect.poll(() => panel(page).getByRole('button', { name: 'Check mail flow' }).isEnabled()).toBe(true);
			await maybeScreenshot(page, 'flow-check');

			// The list shows a small status for it.
			await page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
			const status = mailboxRow(page, desk.address).locator('[data-flow-status]');
			await expect.poll(() => status.getAttribute('data-flow-status')).toBe('ok');
			expect(await status.innerText()).toContain('Mail flows');
			await maybeScreenshot(page, 'flow-check-list', { viewportOnly: true });

			// Offline: the last result, with the time it was loaded.
			await context.setOffline(true);
			await page.goto(`/mailboxes/${desk.id}`);
			const stale = panel(page).locator('[data-stale]');
			await stale.waitFor();
			expect(await stale.innerText()).toMatch(/^The last check as of .+, offline\.$/);
			expect(await panel(page).locator('[data-flow-check]').getAttribute('data-result')).toBe('ok');
			expect(await panel(page).getByRole('button', { name: 'Check mail flow' }).isDisabled()).toBe(true);
			expect(await panel(page).getByRole('status').innerText()).toContain('needs the network');
			// On a phone the checklist stays within the screen, long addresses and records wrapping.
			await page.setViewportSize(PHONE);
			expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
			await maybeScreenshot(page, 'flow-check-offline-phone');
		} finally {
			await context.close();
		}
	});
});
