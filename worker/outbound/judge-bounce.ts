/**
 * What a recognised bounce report may do to the reply it names (SPEC §10 "Bounces", issue 18).
 * Anyone can write a report, and anyone who received a reply knows its Message-ID (every later
 * References names it). So a report changes a reply only when the returned message names the
 * reply (its headers, or Original-Message-ID) and the recipients it says failed are the
 * reply's own: at most a recipient can report its own address. The report's own In-Reply-To
 * and References only find the reply to record an unverified report on. Pure.
 */
import type { UnverifiedBounce } from '../../src/lib/schema/outbound';
import { cleanAddress, stripTypePrefix } from '../inbound/bounce/fields';
import type { BounceRecipientReport, BounceReport } from '../inbound/bounce';

/** The reply a report names, as much of it as judging the report needs. */
export interface BouncedReply {
	to: readonly string[];
	cc: readonly string[];
	bcc: readonly string[];
}

/** How the report named the reply: by the returned message, or only by the report's own thread headers. */
export type BounceMatch = 'returned' | 'thread';

export type BounceVerdict =
	/** `failed`: the reply's recipients the report says failed, each written as the reply has it; `strangers`: failed ones the reply never had. */
	| { kind: 'bounced'; failed: BounceRecipientReport[]; strangers: BounceRecipientReport[] }
	/** A delay notice about the reply's own recipients: a warning (SPEC §10). */
	| { kind: 'delayed'; delayed: BounceRecipientReport[]; strangers: BounceRecipientReport[] }
	/** Changes nothing; recorded on the reply for the admin to see. */
	| { kind: 'unverified'; reason: UnverifiedBounce['reason']; recipients: BounceRecipientReport[] }
	/** Nothing to do: only delivered, relayed or expanded recipients (a NOTIFY=SUCCESS report). */
	| { kind: 'nothing' };

/**
 * What a report may do to the reply it names (issue 18). Verified only when the returned
 * message names the reply and the recipients it says failed (or were delayed) are among the
 * reply's To, Cc and Bcc; recipients the reply never had are left out of any change.
 */
export function judgeBounce(input: { report: BounceReport; reply: BouncedReply; match: BounceMatch }): BounceVerdict {
	const { report, reply, match } = input;
	if (match === 'thread') return { kind: 'unverified', reason: 'thread-only', recipients: report.recipients };
	if (report.recipients.length === 0) return { kind: 'unverified', reason: 'no-recipient', recipients: [] };
	// A report can also name recipients that were delivered, relayed or expanded (RFC 3464
	// §2.3.3, a NOTIFY=SUCCESS request): only failed ones bounce the reply. A recipient without
	// an Action has one from its status or reply code when it gives one (inbound/bounce/dsn.ts).
	const named = report.delayOnly ? report.recipients : report.recipients.filter((r) => r.action === 'failed');
	if (named.length === 0) return { kind: 'nothing' };
	const own = new Map([...reply.to, ...reply.cc, ...reply.bcc].map((address) => [addressKey(address), address]));
	const ours: BounceRecipientReport[] = [];
	const strangers: BounceRecipientReport[] = [];
	for (const recipient of named) {
		// Original-Recipient is the address as we gave it, where the remote side aliased it on.
		const address = own.get(addressKey(recipient.finalRecipient)) ?? own.get(addressKey(recipient.originalRecipient));
		if (address) ours.push({ ...recipient, finalRecipient: address });
		else strangers.push(recipient);
	}
	if (ours.length === 0) return { kind: 'unverified', reason: 'not-a-recipient', recipients: strangers };
	return report.delayOnly ? { kind: 'delayed', delayed: ours, strangers } : { kind: 'bounced', failed: ours, strangers };
}

/** Recipients kept from one unverified report: enough to see what it claimed, bounded because anyone can send one. */
export const MAX_UNVERIFIED_RECIPIENTS = 10;
/** Characters kept of each of an unverified report's words (a diagnostic is one SMTP reply, RFC 5321 §4.5.3.1.5: 512). */
export const MAX_UNVERIFIED_TEXT = 512;

/** What the reply keeps of a report that changed nothing: its words, bounded. */
export function unverifiedReport(input: {
	report: BounceReport;
	reason: UnverifiedBounce['reason'];
	recipients: readonly BounceRecipientReport[];
	logId: string;
	at: string;
}): UnverifiedBounce {
	const cut = (text: string | null) => (text === null ? null : text.slice(0, MAX_UNVERIFIED_TEXT));
	return {
		at: input.at,
		logId: input.logId,
		reason: input.reason,
		reportingMta: cut(input.report.reportingMta),
		recipients: input.recipients.slice(0, MAX_UNVERIFIED_RECIPIENTS).map((r) => ({
			finalRecipient: cut(r.finalRecipient),
			action: cut(r.action),
			status: cut(r.status),
			diagnosticCode: cut(r.diagnosticCode),
			remoteMta: cut(r.remoteMta),
			hint: r.hint
		}))
	};
}

/** Addresses compare without case (what a server reports may differ in case from what we sent) and without angle brackets. */
function addressKey(address: string | null): string {
	return address ? cleanAddress(stripTypePrefix(address)).toLowerCase() : '';
}
