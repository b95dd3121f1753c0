/**
 * The Worker's job queues as wrangler.toml names them: each queue's name (what
 * `[[queues.consumers]]` consumes and `batch.queue` says) and its producer binding. worker/index.ts
 * dispatches from a table keyed by these names; tests/scripts/queues.test.ts checks them
 * against wrangler.toml. Plain values, no Worker types: the Node test reads them too.
 */
export const QUEUES = {
	/** SPEC §10: replies leaving through each mailbox's SMTP server (ids of `outbound` rows). */
	replies: { name: 'mailgate-outbound', binding: 'OUTBOUND_QUEUE' },
	/** SPEC §11: signed webhooks to each integration's help desk (ids of `webhook_events` rows). */
	webhooks: { name: 'mailgate-webhooks', binding: 'WEBHOOK_QUEUE' }
} as const satisfies Record<string, { name: string; binding: string }>;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES]['name'];
