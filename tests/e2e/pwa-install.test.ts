/**
 * Installable PWA (SPEC §1, §6): Chrome itself must find nothing missing, and the manifest and
 * icons it relies on must be served as what they are.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { baseUrl, signIn, temporaryProfile, waitForServiceWorker } from './helpers';

/** Width, height and whether any pixel is not fully transparent, from a PNG's own bytes. */
function readPng(bytes: Buffer): { width: number; height: number; drawn: boolean } {
	expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
	const width = bytes.readUInt32BE(16);
	const height = bytes.readUInt32BE(20);
	const data: Buffer[] = [];
	for (let offset = 8; offset < bytes.length; ) {
		const length = bytes.readUInt32BE(offset);
		const type = bytes.toString('ascii', offset + 4, offset + 8);
		if (type === 'IDAT') data.push(bytes.subarray(offset + 8, offset + 8 + length));
		offset += 12 + length;
	}
	const pixels = inflateSync(Buffer.concat(data));
	return { width, height, drawn: pixels.some((byte, index) => index % (width * 4 + 1) !== 0 && byte !== 0) };
}

describe('installable app', () => {
	it('Chrome reports no installability errors on the app (DevTools protocol)', async () => {
		// A profile on disk: Chrome offers no install in an off-the-record context.
		const context = await temporaryProfile().launch();
		const page = context.pages()[0] ?? (await context.newPage());
		await signIn(page);
		await waitForServiceWorker(page);
		const cdp = await context.newCDPSession(page);
		const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
		expect(installabilityErrors).toEqual([]);
		const manifest = await cdp.send('Page.getAppManifest', {});
		expect(manifest.errors).toEqual([]);
		expect(manifest.url).toBe(`${baseUrl}/manifest.webmanifest`);
	});

	it('serves the manifest as application/manifest+json with name, scope, standalone display and real icons', async () => {
		const response = await fetch(`${baseUrl}/manifest.webmanifest`);
		expect(response.status).toBe(200);
		expect(response.headers.get('content-type')).toMatch(/^application\/manifest\+json/);
		const manifest = await response.json();
		expect(manifest).toMatchObject({
			name: expect.stringContaining('Mailgate'),
			short_name: 'Mailgate',
			start_url: '/',
			scope: '/',
			display: 'standalone',
			theme_color: expect.stringMatching(/^#[0-9a-f]{6}$/i),
			background_color: expect.stringMatching(/^#[0-9a-f]{6}$/i)
		});
		const icons = manifest.icons as { src: string; sizes: string; type: string; purpose?: string }[];
		const wanted = [
			{ sizes: '192x192', purpose: 'any' },
			{ sizes: '512x512', purpose: 'any' },
			{ sizes: '512x512', purpose: 'maskable' }
		];
		for (const { sizes, purpose } of wanted) {
			const icon = icons.find((item) => item.sizes === sizes && (item.purpose ?? 'any').split(' ').includes(purpose));
			expect(icon, `${sizes} ${purpose}`).toBeDefined();
			const image = await fetch(new URL(icon!.src, baseUrl));
			expect(image.headers.get('content-type')).toBe('image/png');
			const png = readPng(Buffer.from(await image.arrayBuffer()));
			expect(`${png.width}x${png.height}`).toBe(sizes);
			expect(png.drawn).toBe(true);
		}
	});
});
