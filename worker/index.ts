/**
 * Mailgate's one Worker. fetch: the /api JSON API (the app's static assets are served by
 * Workers Static Assets before the Worker runs; see wrangler.toml). email: Email Routing's
 * deliveries to service addresses. queue: replies leaving through each mailbox's SMTP server.
 * scheduled: the 30-day retention (daily) and the outbound sweep (every 5 minutes).
 */
import { handleApi } from './api/router';
import { handleInbound } from './inbound/handle-email';
import { purgeOldMessages, purgeOldOutbound } from './inbound/retention';
import { consumeOutbound, type OutboundQueueMessage } from './outbound/consumer';
import { sweepOutbound } from './outbound/sweep';

/** wrangler.toml's daily cron; the other one is the sweep. */
const RETENTION_CRON = '17 3 * * *';

export default {
	async fetch(request, env) {
		const { pathname } = new URL(request.url);
		if (pathname === '/api' || pathname.startsWith('/api/')) return handleApi(request, env);
		return env.ASSETS.fetch(request);
	},

	async email(message, env) {
		await handleInbound(message, env);
	},

	async queue(batch, env) {
		await consumeOutbound(batch.messages as readonly Message<OutboundQueueMessage>[], env);
	},

	async scheduled(controller, env) {
		const now = new Date(controller.scheduledTime);
		if (controller.cron === RETENTION_CRON) {
			const deleted = await purgeOldMessages(env, now);
			const replies = await purgeOldOutbound(env, now);
			console.info('retention', { deleted, replies });
		} else {
			console.info('outbound_sweep', await sweepOutbound(env, now));
		}
	}
} satisfies ExportedHandler<Env>;
