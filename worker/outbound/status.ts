/**
 * A reply's status changes, with the help desk's event for it (SPEC §11 `outbound.sent`,
 * `outbound.failed`, `outbound.bounced`) recorded in the same D1 batch, then queued.
 */
import type { OutboundBounce, OutboundItem } from '../../src/lib/schema/outbound';
import { findWebhookTargetOfMailbox } from '../db/integrations';
import { finishAttemptStatement, recordBounceStatement, toOutboundItem, type AttemptOutcome, type StoredOutbound } from '../db/outbound';
import { insertEventStatement } from '../db/webhooks';
import { enqueueEvents } from '../webhooks/enqueue';
import { outboundEvent, wants } from '../webhooks/events';
import type { Services } from '../services';

const EVENT_OF = { sent: 'outbound.sent', failed: 'outbound.failed', bounced: 'outbound.bounced' } as const;

async function commit(services: Pick<Services, 'db' | 'queues'>, outbound: StoredOutbound, statement: D1PreparedStatement, item: OutboundItem): Promise<void> {
	const type = item.status === 'sent' || item.status === 'failed' || item.status === 'bounced' ? EVENT_OF[item.status] : null;
	const target = type && outbound.mailboxId ? await findWebhookTargetOfMailbox(services.db, outbound.mailboxId) : null;
	if (!type || !wants(target, type)) {
		await statement.run();
		return;
	}
	const event = outboundEvent({ type, item, target, at: new Date().toISOString() });
	// Recorded only when the change took: the row now has the status the event announces.
	const onlyIf = { sql: 'EXISTS (SELECT 1 FROM outbound WHERE id = ?1 AND status = ?2)', values: [outbound.id, item.status] };
	await services.db.batch([statement, insertEventStatement(services.db, event, onlyIf)]);
	await enqueueEvents(services, [event.id]);
}

/** Ends an attempt (consumer.ts `settle`, or the recovery of an abandoned one). */
export async function finishAttempt(services: Pick<Services, 'db' | 'queues'>, outbound: StoredOutbound, outcome: AttemptOutcome): Promise<void> {
	const item = toOutboundItem({
		...outbound,
		status: outcome.status,
		attempts: outcome.attempt ? [...outbound.attempts, outcome.attempt] : outbound.attempts,
		sentAt: outcome.sentAt ?? outbound.sentAt,
		nextAttemptAt: outcome.nextAttemptAt ?? null,
		refused: outcome.refused ?? outbound.refused
	});
	await commit(services, outbound, finishAttemptStatement(services.db, outbound, outcome), item);
}

/** A bounce for a sent message (apply-bounce.ts). */
export async function recordBounce(services: Pick<Services, 'db' | 'queues'>, outbound: StoredOutbound, bounce: OutboundBounce): Promise<void> {
	const status = ['sent', 'failed', 'bounced'].includes(outbound.status) ? 'bounced' : outbound.status;
	const item = toOutboundItem({ ...outbound, status, bounce });
	await commit(services, outbound, recordBounceStatement(services.db, outbound.id, bounce), item);
}
