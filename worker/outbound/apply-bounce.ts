/**
 * A recognised bounce meets the outbound message it concerns (SPEC §10 "Bounces"): found by the
 * returned Message-ID, only among the messages sent from the mailbox the bounce came back to,
 * and judged by judgeBounce (issue 18): only a report whose returned message names the reply,
 * about the reply's own recipients, changes it. Failed recipients make it `bounced`; a delay
 * notice is a warning; anything else is kept on the reply as an unverified report and changes
 * no status. Idempotent: a bounce applied twice (Email Routing redelivers when a write failed)
 * lists each recipient once and each unverified report once.
 */
import type { BounceRecipient, OutboundBounce, UnverifiedBounce } from '../../src/lib/schema/outbound';
import { addUnverifiedReportStatement, addWarningStatement, findOutboundByMessageIds, type StoredOutbound } from '../db/outbound';
import type { BounceRecipientReport, BounceReport } from '../inbound/bounce';
import { judgeBounce, unverifiedReport, type BounceMatch } from './judge-bounce';
import { recordBounce } from './status';
import type { Services } from '../services';

export async function applyBounce(
	services: Pick<Services, 'db' | 'queues'>,
	input: { report: BounceReport; logId: string; mailboxId: string; at: string }
): Promise<void> {
	const db = services.db;
	const { report, logId, mailboxId, at } = input;
	const found = await findReply(db, report, mailboxId);
	if (!found) return;
	const { outbound, match } = found;
	const verdict = judgeBounce({ report, reply: outbound, match });
	const unverified = (reason: UnverifiedBounce['reason'], recipients: readonly BounceRecipientReport[]) =>
		addUnverifiedReportStatement(db, outbound.id, unverifiedReport({ report, reason, recipients, logId, at }));

	switch (verdict.kind) {
		case 'nothing':
			return;
		case 'unverified':
			await unverified(verdict.reason, verdict.recipients).run();
			return;
		case 'delayed': {
			const fresh = verdict.delayed.filter((r) => !outbound.warnings.some((w) => w.logId === logId && w.recipient === r.finalRecipient));
			const statements = fresh.map((r) =>
				addWarningStatement(db, outbound.id, { at, logId, recipient: r.finalRecipient, status: r.status, text: r.diagnosticCode ?? r.hint })
			);
			if (verdict.strangers.length > 0) statements.push(unverified('not-a-recipient', verdict.strangers));
			if (statements.length > 0) await db.batch(statements);
			return;
		}
		case 'bounced': {
			const failed: BounceRecipient[] = verdict.failed.map(({ finalRecipient, action, status, diagnosticCode, remoteMta, hint }) => ({
				finalRecipient,
				action,
				status,
				diagnosticCode,
				remoteMta,
				hint
			}));
			const known = outbound.bounce?.recipients ?? [];
			const key = (r: BounceRecipient) => `${r.finalRecipient ?? ''}|${r.status ?? ''}`.toLowerCase();
			const merged = [...known, ...failed.filter((r) => !known.some((k) => key(k) === key(r)))];
			const bounce: OutboundBounce = {
				at: outbound.bounce?.at ?? at,
				logId: outbound.bounce?.logId ?? logId,
				reportingMta: outbound.bounce?.reportingMta ?? report.reportingMta,
				recipients: merged
			};
			if (verdict.strangers.length > 0) await unverified('not-a-recipient', verdict.strangers).run();
			await recordBounce(services, outbound, bounce);
			return;
		}
	}
}

/**
 * The reply the report names, the returned message's ids first (most specific first); only when
 * none of them is ours, the report's own In-Reply-To and References (nearest first).
 */
async function findReply(db: D1Database, report: BounceReport, mailboxId: string): Promise<{ outbound: StoredOutbound; match: BounceMatch } | null> {
	const ids = [...report.returnedMessageIds, ...report.threadMessageIds];
	const candidates = (await findOutboundByMessageIds(db, ids)).filter((m) => m.mailboxId === mailboxId);
	const order = new Map(ids.map((id, index) => [id, index]));
	const outbound = candidates.sort((a, b) => (order.get(a.messageId) ?? ids.length) - (order.get(b.messageId) ?? ids.length))[0];
	if (!outbound) return null;
	return { outbound, match: report.returnedMessageIds.includes(outbound.messageId) ? 'returned' : 'thread' };
}
