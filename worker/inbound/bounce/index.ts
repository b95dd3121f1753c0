/**
 * Bounce recognition (SPEC §10 "Bounces"): is an inbound message a delivery status
 * notification, which outbound message does it concern, and what happened to each recipient?
 * Pure: plain values in, plain values out. One format family a file:
 * - dsn.ts: RFC 3464 reports (`multipart/report; report-type=delivery-status`, RFC 6522);
 * - plain.ts: the many text bounces that are not (qmail, Yahoo, older Postfix, Sendmail,
 *   Exchange, Exim and Gmail), with the shapes of exchange-ims.ts (Exchange 5.5-2003),
 *   dragonfly-gmx.ts, imail.ts and the statuses qmail.ts reads from qmail's words (SPEC §15);
 *   a notice written in UTF-7 arrives decoded (inbound/parse-mail.ts);
 * - ids.ts: which message a bounce returns; hints.ts: a plain-language hint per recipient.
 *
 * A person forwarding a bounce, an auto-reply and a customer who writes "undeliverable" are
 * not bounces: none of them is a report, and none comes from a mailer. What a recognised
 * report may change is judged where replies are changed (outbound/judge-bounce.ts).
 */
import type { Email } from 'postal-mime';
import { readHeaderBlock } from '../../mail/header-block';
import { DELIVERY_STATUS_TYPES, isDeliveryStatusReport, readDsn } from './dsn';
import { header } from './fields';
import { isMailerSender, readPlainBounce } from './plain';
import type { BounceReport } from './report';

export { bounceHint } from './hints';
export type { BounceRecipientReport, BounceReport } from './report';

export interface RecognizeBounceInput {
	/** The message as received; searched for the returned message's headers when no part carries them. */
	raw: Uint8Array;
	/** postal-mime's parse, with `rfc822Attachments: true` like the email() handler. */
	parsed: Email;
	/** SMTP MAIL FROM (`message.from`); empty or `<>` for a bounce (RFC 5321 §4.5.5). */
	envelopeFrom: string;
	/** The raw header section, when the caller read it already; else read from `raw`. */
	headerBlock?: string;
	/** The HTML body in htmlToText's `lines` mode, when the caller made it already. */
	htmlLines?: string;
}

/** Returns the bounce report when `parsed` is a bounce, else null. */
export function recognizeBounce(input: RecognizeBounceInput): BounceReport | null {
	const { raw, parsed, envelopeFrom } = input;
	const mailer = isMailerSender(envelopeFrom, parsed);
	const statusParts = parsed.attachments.filter((a) => DELIVERY_STATUS_TYPES.has(a.mimeType));
	// RFC 6522 §3: the report type names the second part. A report part inside a forwarded
	// message also reaches `attachments` (postal-mime parses inline message/rfc822), so
	// without the top-level type only a mailer's message counts.
	const report = isDeliveryStatusReport(header(parsed.headers, 'content-type')) || (mailer && statusParts.length > 0);
	if (!report && !mailer) return null;
	const source = { raw, parsed, headerBlock: input.headerBlock ?? readHeaderBlock(raw), htmlLines: input.htmlLines };
	return report ? readDsn(source, statusParts) : readPlainBounce(source);
}
