/**
 * What domain code is handed instead of the whole Env: the bindings under their own names and
 * the settings parsed once (worker/config.ts). worker/index.ts builds it once per invocation
 * (servicesFrom) and passes it, or a Pick<> of it, to the inbound path, the queue consumers,
 * the sweeps, retention and the API. A leaf: it imports config.ts and nothing index.ts dispatches to.
 */
import { readConfig, type Config } from './config';
import { governorOf, type Governor } from './governor/client';

export interface Services {
	db: D1Database;
	/** The original messages and replies (R2, SPEC §8). */
	archive: R2Bucket;
	/** The producers of wrangler.toml's two queues (worker/jobs/queues.ts names them). */
	queues: { replies: Queue; webhooks: Queue };
	/** The Worker's settings, parsed once per Env. */
	config: Config;
	/** SPEC §15: each mailbox's sessions and rate, across invocations (worker/governor/). */
	governor: Governor;
}

/** The services of one Env. Cheap: the settings are parsed once per Env object (readConfig's cache). */
export function servicesFrom(env: Env): Services {
	return {
		db: env.DB,
		archive: env.MAIL_ARCHIVE,
		queues: { replies: env.OUTBOUND_QUEUE, webhooks: env.WEBHOOK_QUEUE },
		config: readConfig(env),
		governor: governorOf(env.MAILBOX_GOVERNOR)
	};
}
