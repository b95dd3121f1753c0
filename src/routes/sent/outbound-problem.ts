/**
 * What went wrong with an outbound message, for the Sent mail row and the message page (SPEC
 * §10): the server's own words, the step it failed at and the hint, from the last attempt of a
 * failed or deferred message, or from the bounce of a bounced one.
 */
import type { OutboundItem } from '$lib/schema/outbound';
import { smtpStageLabels, type SmtpStage } from '$lib/schema/smtp-test';

export interface OutboundProblem {
	/** The server's words verbatim (an SMTP reply, a bounce's Diagnostic-Code); null when none came. */
	words: string | null;
	/** Where it stopped, in words: an SMTP step, or after delivery for a bounce. */
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
		words: attempt.serverMessage ?? null,
		step: smtpStageLabels[attempt.stage],
		stage: attempt.stage,
		hint: attempt.hint,
		mayHaveArrived: attempt.mayHaveArrived === true,
		at: attempt.at
	};
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
