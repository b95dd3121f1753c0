/**
 * A recognised bounce meets the outbound message it concerns (SPEC §10 "Bounces"): matched by
 * the returned Message-ID, only among the messages sent from the mailbox the bounce came back
 * to. Failed recipients make it `bounced`; a delay notice is a warning. Idempotent: a bounce
 * applied twice (Email Routing redelivers when a write failed) lists each recipient once.
 */
import type { BounceRecipient, OutboundBounce } from '../../src/lib/schema/outbound';
import { addWarningStatement, findOutboundByMessageIds } from '../db/outbound';
import { recordBounce } from '../outbound/status';
import type { BounceReport } from './bounce';

export interface BounceMatch {
	outboundId: string | null;
	delayOnly: boolean;
}

export async function applyBounce(
	env: Env,
	input: { report: BounceReport; logId: string; mailboxId: string; at: string }
): Promise<BounceMatch> {
	const db = env.DB;
	const { report, logId, mailboxId, at } = input;
	const candidates = (await findOutboundByMessageIds(db, report.returnedMessageIds)).filter((m) => m.mailboxId === mailboxId);
	// The most specific id wins: the returned headers' Message-ID before In-Reply-To/References.
	const order = new Map(report.returnedMessageIds.map((id, index) => [id, index]));
	const outbound = candidates.sort((a, b) => (order.get(a.messageId) ?? 99) - (order.get(b.messageId) ?? 99))[0];
	if (!outbound) return { outboundId: null, delayOnly: report.delayOnly };

	if (report.delayOnly) {
		const fresh = report.recipients.filter(
			(r) => !outbound.warnings.some((w) => w.logId === logId && w.recipient === r.finalRecipient)
		);
		if (fresh.length > 0) {
			await db.batch(
				fresh.map((r) =>
					addWarningStatement(db, outbound.id, {
						at,
						logId,
						recipient: r.finalRecipient,
						status: r.status,
						text: r.diagnosticCode ?? r.hint
					})
				)
			);
		}
		return { outboundId: outbound.id, delayOnly: true };
	}

	// RFC 3464 §2.3.3: only `failed` recipients bounced; plain-text bounces name no action.
	const failed: BounceRecipient[] = report.recipients
		.filter((r) => r.action === null || r.action === 'failed')
		.map(({ finalRecipient, action, status, diagnosticCode, remoteMta, hint }) => ({ finalRecipient, action, status, diagnosticCode, remoteMta, hint }));
	if (failed.length === 0) return { outboundId: outbound.id, delayOnly: false };
	const known = outbound.bounce?.recipients ?? [];
	const key = (r: BounceRecipient) => `${r.finalRecipient ?? ''}|${r.status ?? ''}`.toLowerCase();
	const merged = [...known, ...failed.filter((r) => !known.some((k) => key(k) === key(r)))];
	const bounce: OutboundBounce = {
		at: outbound.bounce?.at ?? at,
		logId: outbound.bounce?.logId ?? logId,
		reportingMta: outbound.bounce?.reportingMta ?? report.reportingMta,
		recipients: merged
	};
	await recordBounce(env, outbound, bounce);
	return { outboundId: outbound.id, delayOnly: false };
}
