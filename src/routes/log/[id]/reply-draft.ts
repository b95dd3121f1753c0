/**
 * The reply an admin starts from an inbound message (SPEC §10 "In the app"): who it goes to,
 * its subject, and whether the message can be answered at all.
 */
import type { MessageDetail } from '$lib/schema/message';

/** Only a customer's message that reached a mailbox is answered: not a refusal, a bounce or a probe. */
export function canReply(message: MessageDetail): message is MessageDetail & { mailboxId: string } {
	return (
		message.mailboxId !== null &&
		(message.verdict === 'accepted' || message.verdict === 'quarantined') &&
		(message.kind ?? 'message') === 'message'
	);
}

/**
 * Where a reply goes: the message's Reply-To when it names one (RFC 5322 §3.6.2: replies go
 * there), otherwise the From address, otherwise the envelope sender.
 */
export function replyAddress(message: MessageDetail): string {
	const field = /^Reply-To:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(message.headers)?.[1]?.replace(/\r?\n[ \t]+/g, ' ');
	const replyTo = field ? (/<([^<>\s]+@[^<>\s]+)>/.exec(field)?.[1] ?? /[^\s,;<>"]+@[^\s,;<>"]+/.exec(field)?.[0]) : undefined;
	return replyTo ?? message.from.address ?? message.envelope.from;
}

/** "Re: " + the subject, once (RFC 5322 §3.6.5). */
export function replySubject(subject: string | null): string {
	const original = subject?.trim() ?? '';
	if (!original) return '';
	return /^re:/i.test(original) ? original : `Re: ${original}`;
}

/** The server's field errors on a reply, by the form's fields (`to.1` belongs to To). */
export function replyFieldErrors(fields: Record<string, string>): Record<'to' | 'subject' | 'text' | 'other', string> {
	const errors = { to: '', subject: '', text: '', other: '' };
	for (const [path, message] of Object.entries(fields)) {
		const key = path.split('.')[0];
		if (key === 'to' || key === 'subject' || key === 'text') errors[key] ||= message;
		else errors.other ||= `${path}: ${message}`;
	}
	return errors;
}
