import adapter from '@sveltejs/adapter-cloudflare';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/**
 * The app reads no `platform` (it is browser-only), so it needs no emulated Cloudflare platform.
 * The adapter's emulation starts a workerd through wrangler's getPlatformProxy, which prerendering
 * never disposes: every `npm run build` would leave an orphaned workerd process behind.
 * @param {import('@sveltejs/kit').Adapter} cloudflare
 * @returns {import('@sveltejs/kit').Adapter}
 */
function withoutPlatformEmulation(cloudflare) {
	const { emulate: _emulate, ...rest } = cloudflare;
	return rest;
}

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		// The adapter writes the static app to .svelte-kit/cloudflare. It reads its own small
		// wrangler file because, given ../wrangler.toml, it would overwrite worker/index.ts
		// (the real entry) with SvelteKit's server Worker, which a browser-only app has no use for.
		adapter: withoutPlatformEmulation(adapter({ config: 'worker/adapter.wrangler.toml' })),
		typescript: {
			// Worker code and its workerd tests are checked by worker/ and tests/worker/ tsconfigs,
			// which have the Workers runtime types instead of the DOM's.
			config(tsconfig) {
				tsconfig.exclude = [...(tsconfig.exclude ?? []), '../tests/worker/**', '../worker/**'];
				return tsconfig;
			}
		},
		// SvelteKit hashes its inline bootstrap script into a <meta> CSP on every prerendered page.
		csp: {
			mode: 'hash',
			directives: {
				'default-src': ['self'],
				'script-src': ['self'],
				'style-src': ['self', 'unsafe-inline'],
				// A message's HTML is shown in a sandboxed srcdoc frame, which inherits this policy on top
				// of its own (src/lib/components/mail-html.ts). Its own policy allows no remote image
				// until the admin clicks "Show remote images"; then only https ones, which this must allow.
				'img-src': ['self', 'data:', 'https:'],
				'font-src': ['self'],
				'connect-src': ['self'],
				'manifest-src': ['self'],
				'worker-src': ['self'],
				'frame-src': ['self'],
				'object-src': ['none'],
				'base-uri': ['self'],
				'form-action': ['self']
			}
		}
	}
};

export default config;
