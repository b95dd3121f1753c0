/**
 * What went wrong with an outbound message, for the Sent mail row and the message page (SPEC
 * §10): the server's own words, the step it failed at and the hint, from the last attempt of a
 * failed or deferred message, or from the bounce of a bounced one.
 */
import type { OutboundItem } from '$lib/schema/outbound';
import { serverWordsOf } from '$lib/components/smtp-words';
import { smtpStageLabels, type SmtpStage } from '$lib/schema/smtp-test';

export interface OutboundProblem {
	/** The server's words verbatim (an SMTP reply, an API's status and error, SPEC §14, a bounce's Diagnostic-Code); null when none came. */
	words: string | null;
	/** Where it stopped, in words: an SMTP step or an API's (Access token, Send), or after delivery for a bounce. */
	step: string;
	stage: SmtpStage | null;
	hint: string;
	/** The message data went out and no answer came: it may have been delivered. */
	mayHaveArrived: boolean;
	at: string;
}

/** The step of a bounce: the message had left; the receiving side sent it back. */
export const BOUNCE_STEP = 'After sending: returned by the receiving server';

/** Null for a message that is queued, sending or sent (nothing went wrong, or not yet). */
export function problemOf(item: OutboundItem): OutboundProblem | null {
	if (item.status === 'bounced' && item.bounce) {
		const recipient = item.bounce.recipients.find((r) => r.diagnosticCode) ?? item.bounce.recipients[0];
		return {
			words: recipient?.diagnosticCode ?? recipient?.status ?? null,
			step: BOUNCE_STEP,
			stage: null,
			hint: recipient?.hint ?? 'The receiving server returned the message. Open it for the delivery report.',
			mayHaveArrived: false,
			at: item.bounce.at
		};
	}
	if (item.status !== 'failed' && item.status !== 'deferred') return null;
	const attempt = item.attempts.findLast((a) => !a.ok);
	if (!attempt) return null;
	return {
		words: serverWordsOf(attempt),
		step: smtpStageLabels[attempt.stage],
		stage: attempt.stage,
		hint: attempt.hint,
		mayHaveArrived: attempt.mayHaveArrived === true,
		at: attempt.at
	};
}

/**
 * RFC 3463 §3.3 X.1.Y addressing codes that say the address itself is wrong: no such mailbox
 * (5.1.1), no such system (5.1.2), bad syntax (5.1.3), moved with no forwarding (5.1.6), and a
 * domain that takes no mail (5.1.10, RFC 7505 null MX). Sending the same message to the same
 * address again cannot change the answer, so no Retry is offered (issue 19).
 */
const WRONG_ADDRESS_CODES = new Set(['5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10']);

/** An enhanced status code as written in a DSN's Status field or an SMTP reply ("5.1.1", "5.1.10 (…)"). */
function addressCode(text: string | null | undefined): string | null {
	const code = /^\s*#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])/.exec(text ?? '')?.[1];
	return code && WRONG_ADDRESS_CODES.has(code) ? code : null;
}

/**
 * The recipients whose address is wrong when that is all that went wrong: every recipient a
 * bounce names failed with an addressing code, or the server refused the only recipients at
 * RCPT with one. Null otherwise (Retry may help then).
 */
export function wrongAddresses(item: OutboundItem): string[] | null {
	if (item.status === 'bounced' && item.bounce) {
		const failed = item.bounce.recipients;
		if (failed.length === 0 || !failed.every((r) => addressCode(r.status) ?? addressCode(r.diagnosticCode?.replace(/^\s*smtp;\s*\d{3}[ -]/i, '')))) return null;
		return failed.map((r) => r.finalRecipient?.replace(/^\s*rfc822\s*;\s*/i, '') ?? 'the recipient');
	}
	if (item.status === 'failed') {
		const attempt = item.attempts.findLast((a) => !a.ok);
		if (attempt?.stage !== 'rcpt' || !addressCode(attempt.enhancedCode)) return null;
		return [...item.to, ...item.cc, ...item.bcc];
	}
	return null;
}

/** "support@acme.com, bob@example.org and 2 more" */
export function describeRecipients(item: Pick<OutboundItem, 'to' | 'cc' | 'bcc'>, shown = 2): string {
	const all = [...item.to, ...item.cc, ...item.bcc];
	if (all.length <= shown + 1) return all.join(', ');
	return `${all.slice(0, shown).join(', ')} and ${all.length - shown} more`;
}

/** The tone of a status, for the left edge of a row (the badge says it in words). */
export const statusTones = {
	queued: 'primary',
	sending: 'primary',
	sent: 'success',
	deferred: 'warning',
	failed: 'danger',
	bounced: 'danger'
} as const satisfies Record<OutboundItem['status'], 'primary' | 'success' | 'warning' | 'danger'>;
