/**
 * Mailgate's one Worker. fetch: the /api JSON API and the OAuth sign-in's /oauth/callback (the
 * app's static assets are served by Workers Static Assets before the Worker runs; see
 * wrangler.toml). email: Email Routing's deliveries to service addresses. queue: replies leaving
 * through each mailbox's SMTP server, and webhooks to each integration's help desk.
 * scheduled: the 30-day retention (daily) and the outbound sweep (every 5 minutes).
 */
import { handleOAuthCallback } from './api/oauth';
import { handleApi } from './api/router';
import { servicesFrom, type Services } from './services';
import { handleInbound } from './inbound/handle-email';
import { DAY_MS, purgeOldMessages, purgeOldOutbound, retentionStart } from './inbound/retention';
import { consumeOutbound } from './outbound/consumer';
import { sweepOutbound } from './outbound/sweep';
import { closeExpiredFlowChecks } from './flow/timeout';
import { deleteIdleRateLimits } from './db/rate-limits';
import { deleteEventsBefore } from './db/webhooks';
import { consumeWebhooks } from './webhooks/consumer';
import { sweepWebhooks } from './webhooks/sweep';
import { QUEUES, type QueueName } from './jobs/queues';

/** SPEC §15: the governor's Durable Object class (wrangler.toml MAILBOX_GOVERNOR). */
export { MailboxGovernor } from './governor/mailbox-governor';

/** wrangler.toml's daily cron; the other one is the sweep. */
const RETENTION_CRON = '17 3 * * *';
/**
 * One consumer per queue of wrangler.toml's `[[queues.consumers]]` (worker/jobs/queues.ts names
 * them; tests/scripts/queues.test.ts checks the names against the toml).
 */
/** What a queue's batch is handed to. */
type QueueConsumer = (messages: readonly Message<{ id: string }>[], services: Services) => Promise<void>;

/** Each queue's producer binding is one the Worker has (wrangler types). */
const producerBindingsExist: (typeof QUEUES)[keyof typeof QUEUES]['binding'] extends keyof Env ? true : never = true;
void producerBindingsExist;

const QUEUE_CONSUMERS: Record<QueueName, QueueConsumer> = {
	[QUEUES.replies.name]: consumeOutbound,
	[QUEUES.webhooks.name]: consumeWebhooks
};

export default {
	// ctx is optional so that tests may call fetch with an env of their own.
	async fetch(request, env, ctx?: ExecutionContext) {
		const { pathname } = new URL(request.url);
		// The bindings and the settings (read once per Env, worker/config.ts), handed on as one narrow object.
		if (pathname === '/api' || pathname.startsWith('/api/')) {
			return handleApi(request, servicesFrom(env), undefined, ctx && ((promise) => ctx.waitUntil(promise)));
		}
		// SPEC §12: the OAuth provider sends the admin's browser back here (run_worker_first: /oauth/*).
		if (pathname === '/oauth/callback') return handleOAuthCallback(request, servicesFrom(env));
		if (pathname.startsWith('/oauth/')) return new Response('Not found', { status: 404 });
		return env.ASSETS.fetch(request);
	},

	async email(message, env) {
		await handleInbound(message, servicesFrom(env));
	},

	async queue(batch, env) {
		const consume = QUEUE_CONSUMERS[batch.queue as QueueName];
		// A queue wrangler.toml consumes without a consumer here is a deployment mistake: fail loudly (the batch is retried).
		if (!consume) throw new Error(`No consumer for queue ${batch.queue}`);
		await consume(batch.messages as Parameters<QueueConsumer>[0], servicesFrom(env));
	},

	async scheduled(controller, env) {
		const now = new Date(controller.scheduledTime);
		const services = servicesFrom(env);
		if (controller.cron === RETENTION_CRON) {
			const deleted = await purgeOldMessages(services, now);
			const replies = await purgeOldOutbound(services, now);
			const events = await deleteEventsBefore(services.db, retentionStart(now));
			// Counters of keys and mailboxes idle for a day (revoked, deleted, quiet) are not kept.
			const counters = await deleteIdleRateLimits(services.db, now.getTime() - DAY_MS);
			console.info('retention', { deleted, replies, events, counters });
		} else {
			console.info('sweep', {
				outbound: await sweepOutbound(services, now),
				webhooks: await sweepWebhooks(services, now),
				flowChecks: await closeExpiredFlowChecks(services.db, now)
			});
		}
	}
} satisfies ExportedHandler<Env>;
