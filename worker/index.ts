/**
 * Mailgate's one Worker. fetch: the /api JSON API (the app's static assets are served by
 * Workers Static Assets before the Worker runs; see wrangler.toml). email() and scheduled()
 * join here as the inbound issues land.
 */
import { handleApi } from './api/router';

export default {
	async fetch(request, env) {
		const { pathname } = new URL(request.url);
		if (pathname === '/api' || pathname.startsWith('/api/')) return handleApi(request, env);
		return env.ASSETS.fetch(request);
	}
} satisfies ExportedHandler<Env>;
