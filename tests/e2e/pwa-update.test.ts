/**
 * A new version of the app (a changed service worker) installs in the background and waits: the
 * admin is told and chooses when to switch; until then the running version stays in charge.
 *
 * The browser talks to the test server through a small proxy that, once told to, serves a
 * changed service-worker.js, exactly as a new deploy would.
 */
import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, baseUrl, launchBrowser, waitForServiceWorker } from './helpers';

/** Appended to the worker when the "new version" is deployed: it answers which version it is. */
const NEW_VERSION_CODE = `
self.addEventListener('message', (event) => {
	if (event.data === 'which-version?') event.source.postMessage('new version');
});
`;

let browser: Browser;
let proxy: Server;
let proxyUrl: string;
let deployNewVersion = false;

beforeAll(async () => {
	browser = await launchBrowser();
	const upstream = new URL(baseUrl);
	proxy = createServer((incoming, outgoing) => {
		const changeWorker = deployNewVersion && incoming.url === '/service-worker.js';
		const headers = { ...incoming.headers, host: upstream.host };
		if (changeWorker) {
			// The worker is edited as text: ask for all of it, uncompressed.
			headers['accept-encoding'] = 'identity';
			delete headers['if-none-match'];
			delete headers['if-modified-since'];
		}
		const upstreamRequest = forward(
			{ hostname: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers },
			(answer) => {
				if (!changeWorker) {
					outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
					answer.pipe(outgoing);
					return;
				}
				const chunks: Buffer[] = [];
				answer.on('data', (chunk: Buffer) => chunks.push(chunk));
				answer.on('end', () => {
					const body = Buffer.concat([...chunks, Buffer.from(NEW_VERSION_CODE)]);
					const { 'content-length': _length, etag: _etag, ...rest } = answer.headers;
					outgoing.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': body.length });
					outgoing.end(body);
				});
			}
		);
		upstreamRequest.on('error', () => outgoing.destroy());
		incoming.pipe(upstreamRequest);
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
	await browser?.close();
	proxy?.closeAllConnections();
	await new Promise((resolve) => proxy?.close(resolve));
});

describe('app update', () => {
	it('offers a new version instead of switching, and switches (cleaning old caches) when the admin accepts', async () => {
		deployNewVersion = false;
		const context = await browser.newContext({ baseURL: proxyUrl });
		context.setDefaultTimeout(10_000);
		await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
		const page = await context.newPage();
		await page.goto('/');
		await waitForServiceWorker(page);
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		// A cache left by an older version, which the new one must clean up.
		await page.evaluate(async () => (await caches.open('mailgate-shell-0ld')).put('/old', new Response('old')));
		const prompt = page.getByRole('status').filter({ hasText: 'A new version of Mailgate is available' });
		expect(await prompt.count()).toBe(0);

		deployNewVersion = true;
		await page.goto('/integrations');
		await page.evaluate(() => {
			(window as unknown as { notReloaded: boolean }).notReloaded = true;
		});
		// Chromium may hold the first update check after a fresh install for a few seconds.
		await prompt.waitFor({ timeout: 20_000 });
		// Not switched under the admin's feet: same page, the old worker still in charge.
		expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
		const state = await page.evaluate(async () => {
			const registration = await navigator.serviceWorker.getRegistration();
			return { waiting: registration?.waiting?.state, controller: navigator.serviceWorker.controller?.state };
		});
		expect(state).toEqual({ waiting: 'installed', controller: 'activated' });
		expect(await askWhichVersion(page)).toBe('no answer');

		await Promise.all([
			page.waitForEvent('load'),
			prompt.getByRole('button', { name: 'Reload to update' }).click()
		]);
		await page.getByRole('heading', { level: 1, name: 'Channel integrations' }).waitFor();
		expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBeUndefined();
		expect(await askWhichVersion(page)).toBe('new version');
		expect(await prompt.count()).toBe(0);
		const cacheNames = await page.evaluate(() => caches.keys());
		expect(cacheNames).not.toContain('mailgate-shell-0ld');
		expect(cacheNames.filter((name) => name.startsWith('mailgate-shell-'))).toHaveLength(1);
		await context.close();
	});
});

/** Asks the controlling service worker which version it is (only the new one answers). */
function askWhichVersion(page: import('playwright-core').Page): Promise<string> {
	return page.evaluate(
		() =>
			new Promise<string>((resolve) => {
				navigator.serviceWorker.addEventListener('message', (event) => resolve(String(event.data)), { once: true });
				navigator.serviceWorker.controller?.postMessage('which-version?');
				setTimeout(() => resolve('no answer'), 1_000);
			})
	);
}
