/**
 * States of the mailbox list the shared test database cannot hold on demand (nothing at all,
 * SMTP test results, which arrive with a later issue): the API answers are stubbed in the
 * browser, in the exact shape the Worker returns.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { adminToken, baseUrl, useBrowser } from './helpers';

const browser = useBrowser();

const AT = '2026-03-02T09:30:00.000Z';
const integration = { id: 'int-1', name: 'Acme EU', version: 1, createdAt: AT, updatedAt: AT };

function mailbox(id: string, address: string, lastSmtpTest: unknown) {
	return {
		id,
		version: 1,
		integrationId: integration.id,
		name: `Desk ${id}`,
		description: '',
		address,
		smtp: { host: 'smtp.acme.example', port: 587, username: address, hasPassword: true, encryption: 'starttls' },
		manualForward: 'reject',
		createdAt: AT,
		updatedAt: AT,
		lastSmtpTest
	};
}

/** A signed-in page whose /api answers are `answers` (service workers off so routing sees every request). */
async function stubbedPage(answers: { integrations: unknown[]; mailboxes: unknown[] }): Promise<Page> {
	const context = await browser.current.newContext({ baseURL: baseUrl, serviceWorkers: 'block' });
	await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
	await context.route('**/api/integrations', (route) => route.fulfill({ json: { items: answers.integrations } }));
	await context.route('**/api/mailboxes', (route) => route.fulfill({ json: { items: answers.mailboxes } }));
	const page = await context.newPage();
	await page.goto('/');
	return page;
}

describe('mailbox list', () => {
	it('with no integrations, points at creating one first', async () => {
		const page = await stubbedPage({ integrations: [], mailboxes: [] });
		await page.getByRole('heading', { name: 'No mailboxes yet' }).waitFor();
		expect(await page.getByRole('link', { name: 'Create a channel integration' }).getAttribute('href')).toBe(
			'/integrations'
		);
		expect(await page.getByRole('table').count()).toBe(0);
		await page.context().close();
	});

	it('with integrations but no mailboxes, says to use Add', async () => {
		const page = await stubbedPage({ integrations: [integration], mailboxes: [] });
		await page.getByRole('heading', { name: 'No mailboxes yet' }).waitFor();
		expect(await page.getByRole('main').textContent()).toContain('Choose Add');
		expect(await page.getByRole('link', { name: 'Create a channel integration' }).count()).toBe(0);
		await page.context().close();
	});

	it('shows each mailbox’s last SMTP test: not tested, passed or failed with its date', async () => {
		const page = await stubbedPage({
			integrations: [integration],
			mailboxes: [
				mailbox('a', 'never@acme.example', null),
				mailbox('b', 'good@acme.example', { ok: true, stage: 'data', category: null, at: AT }),
				mailbox('c', 'bad@acme.example', { ok: false, stage: 'auth', category: 'auth', at: AT })
			]
		});
		const cell = (address: string) =>
			page.getByRole('row').filter({ hasText: address }).getByRole('cell').nth(3).textContent();
		await page.getByRole('row').filter({ hasText: 'never@acme.example' }).waitFor();
		expect(await cell('never@acme.example')).toContain('Not tested yet');
		expect(await cell('good@acme.example')).toContain('Passed');
		expect(await cell('bad@acme.example')).toContain('Failed');
		const when = page.getByRole('row').filter({ hasText: 'good@acme.example' }).locator('time');
		expect(await when.getAttribute('datetime')).toBe(AT);
		expect(await page.getByRole('row').filter({ hasText: 'bad@acme.example' }).textContent()).toContain('Acme EU');
		await page.context().close();
	});
});
