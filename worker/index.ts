/**
 * Mailgate's one Worker. fetch: the /api JSON API (the app's static assets are served by
 * Workers Static Assets before the Worker runs; see wrangler.toml). email: Email Routing's
 * deliveries to service addresses. scheduled: the email log's 30-day retention.
 */
import { handleApi } from './api/router';
import { handleInbound } from './inbound/handle-email';
import { purgeOldMessages } from './inbound/retention';

export default {
	async fetch(request, env) {
		const { pathname } = new URL(request.url);
		if (pathname === '/api' || pathname.startsWith('/api/')) return handleApi(request, env);
		return env.ASSETS.fetch(request);
	},

	async email(message, env) {
		await handleInbound(message, env);
	},

	async scheduled(controller, env) {
		const deleted = await purgeOldMessages(env, new Date(controller.scheduledTime));
		console.info('retention', { deleted });
	}
} satisfies ExportedHandler<Env>;
