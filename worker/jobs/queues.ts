/**
 * The Worker's job queues as wrangler.toml names them: each queue's name (what
 * `[[queues.consumers]]` consumes and `batch.queue` says) and its producer binding. worker/index.ts
 * dispatches from a table keyed by these names; tests/scripts/queues.test.ts checks them
 * against wrangler.toml.
 */
import type { JobMessage } from './enqueue';

export const QUEUES = {
	/** SPEC §10: replies leaving through each mailbox's SMTP server (ids of `outbound` rows). */
	replies: { name: 'mailgate-outbound', binding: 'OUTBOUND_QUEUE' },
	/** SPEC §11: signed webhooks to each integration's help desk (ids of `webhook_events` rows). */
	webhooks: { name: 'mailgate-webhooks', binding: 'WEBHOOK_QUEUE' }
} as const satisfies Record<string, { name: string; binding: keyof Env }>;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES]['name'];

/** What index.ts hands each queue's batch to. */
export type QueueConsumer = (messages: readonly Message<JobMessage>[], env: Env) => Promise<void>;
