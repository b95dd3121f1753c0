/**
 * Whether an inbound message was sent by a machine rather than a person (SPEC §11
 * `message.received` `autoReply`): out-of-office and other automatic replies, list and bulk
 * mail. A help desk that answers these risks a mail loop. The checks follow Zammad's
 * Channel::Filter::AutoResponseCheck, RFC 3834 and the vendors' own headers. Pure.
 */

export interface AutoReplyVerdict {
	auto: boolean;
	/** The evidence, e.g. "Auto-Submitted: auto-replied"; null when `auto` is false. */
	reason: string | null;
}

type Header = { key: string; value: string };

/** Header values quoted in a reason are cut to this many characters (List-Unsubscribe runs long). */
const MAX_REASON_VALUE = 200;

/**
 * Precedence was never standardised, but RFC 3834 advises responders not to answer "bulk",
 * "junk" or "list"; "auto_reply" is what several responders write on their own replies.
 */
const AUTOMATIC_PRECEDENCE = new Set(['auto_reply', 'bulk', 'junk', 'list']);

/**
 * Microsoft's X-Auto-Response-Suppress (MS-OXCMAIL §2.1.3.2.20) lists what the sender does not
 * want back. "All", "OOF" or "AutoReply" mean it expects no human answer either: Exchange puts
 * "All" on its own out-of-office replies, and notification senders set "OOF, AutoReply". "DR",
 * "NDR", "RN" and "NRN" only refuse receipts, which a person's mail may do.
 */
const SUPPRESSED_BY_MACHINES = new Set(['all', 'oof', 'autoreply']);

/** Values by which a flag header says "not automatic" (seen as "X-Autoreply: no" from some webmails). */
const NEGATIVE = new Set(['', 'no', 'false', '0']);

export function detectAutoReply(headers: Array<{ key: string; value: string }>, envelopeFrom?: string): AutoReplyVerdict {
	const reason = firstReason(headers, envelopeFrom);
	return { auto: reason !== null, reason };
}

function firstReason(headers: Header[], envelopeFrom: string | undefined): string | null {
	// RFC 3834 §5: "no" is the only value for a message a person wrote; every other value
	// (auto-generated, auto-replied, auto-notified of RFC 5436, extensions) is automatic.
	for (const value of values(headers, 'auto-submitted')) {
		const keyword = firstWord(value);
		if (keyword !== '' && keyword !== 'no') return evidence('Auto-Submitted', value);
	}
	// Set by many responders (and Zammad's own) on the replies they send.
	for (const name of ['X-Autoreply', 'X-Autorespond']) {
		for (const value of values(headers, name.toLowerCase())) {
			if (!NEGATIVE.has(firstWord(value))) return evidence(name, value);
		}
	}
	for (const value of values(headers, 'precedence')) {
		if (AUTOMATIC_PRECEDENCE.has(firstWord(value))) return evidence('Precedence', value);
	}
	for (const value of values(headers, 'x-auto-response-suppress')) {
		const tokens = value.split(/[\s,]+/).map((token) => token.toLowerCase());
		if (tokens.some((token) => SUPPRESSED_BY_MACHINES.has(token))) return evidence('X-Auto-Response-Suppress', value);
	}
	// X-Loop is written by the software that handled the message (procmail and list managers
	// write their own address, some responders "yes"): Zammad checks only yes/true, but any
	// value says a program passed it on, and a loop is what it exists to stop.
	for (const value of values(headers, 'x-loop')) {
		if (!NEGATIVE.has(firstWord(value))) return evidence('X-Loop', value);
	}
	// RFC 2919 List-Id and RFC 2369 List-Unsubscribe: list and newsletter mail.
	for (const name of ['List-Id', 'List-Unsubscribe']) {
		for (const value of values(headers, name.toLowerCase())) {
			if (value.trim() !== '') return evidence(name, value);
		}
	}
	// RFC 5321 §4.5.5: notifications go out with a null reverse-path, and RFC 3834 asks the
	// same of automatic responses.
	if (envelopeFrom !== undefined) {
		const sender = envelopeFrom.trim();
		if (sender === '' || sender === '<>') return 'null envelope sender (MAIL FROM:<>)';
	}
	return null;
}

/** Values of one header (keys arrive lower-cased from postal-mime; compared lower-cased anyway). */
function values(headers: Header[], key: string): string[] {
	return headers.filter((header) => header.key.toLowerCase() === key).map((header) => header.value);
}

/** The keyword before any parameters or comment: "auto-replied; owner-email=..." → "auto-replied". */
function firstWord(value: string): string {
	return value.trim().split(/[\s;,(]/, 1)[0]!.toLowerCase();
}

function evidence(name: string, value: string): string {
	const shown = value.replace(/\s+/g, ' ').trim();
	return `${name}: ${shown.length > MAX_REASON_VALUE ? `${shown.slice(0, MAX_REASON_VALUE)}…` : shown}`;
}
