/**
 * What bounce recognition returns (SPEC §10 "Bounces"): the report, one entry per recipient,
 * whichever format it came in (dsn.ts, plain.ts). Plain values.
 */
import type { Email } from 'postal-mime';

export interface BounceRecipientReport {
	/** RFC 3464 §2.3.2 Final-Recipient, the address only (no "rfc822;" prefix); Original-Recipient when it is missing. */
	finalRecipient: string | null;
	/** RFC 3464 §2.3.1 Original-Recipient (the address as we gave it, before the remote side's aliasing), when written. */
	originalRecipient: string | null;
	/** RFC 3464 §2.3.3: failed, delayed, delivered, relayed, expanded (lower case). */
	action: string | null;
	/** RFC 3464 §2.3.4 / RFC 3463: "5.1.1". */
	status: string | null;
	/** RFC 3464 §2.3.6 Diagnostic-Code, without the "smtp;" type prefix. */
	diagnosticCode: string | null;
	/** RFC 3464 §2.3.5 Remote-MTA, without the "dns;" prefix. */
	remoteMta: string | null;
	/** A plain-language hint from the status code (5.1.1 no such mailbox, 5.2.2 mailbox full, 5.7.x policy…). */
	hint: string;
}

export interface BounceReport {
	/** `dsn`: RFC 3464 multipart/report; `plain`: a text bounce with the returned message or its headers. */
	format: 'dsn' | 'plain';
	/** RFC 3464 §2.2.2 Reporting-MTA, without "dns;". */
	reportingMta: string | null;
	/**
	 * Message-IDs the returned (outbound) message carries, without angle brackets, most specific
	 * first: the returned headers' Message-ID, then Original-Message-ID (X-/RFC 3464 field). Only
	 * these can verify a report (judgeBounce).
	 */
	returnedMessageIds: string[];
	/**
	 * The report's own In-Reply-To, then its References nearest first, without those above. Any
	 * recipient of a reply can write these, so they never verify a report: a reply found only
	 * by them gets an unverified report.
	 */
	threadMessageIds: string[];
	recipients: BounceRecipientReport[];
	/** Every recipient is `delayed`: a delay notice (a warning), not a bounce. */
	delayOnly: boolean;
}


/**
 * Recipients read from one bounce. RFC 5321 §4.5.3.1.8 makes 100 the smallest recipient
 * limit a server must accept, so one message, and its report, rarely names more.
 */
export const MAX_REPORT_RECIPIENTS = 100;
/** Characters of the bounce's text searched: MTAs put their notice and any returned headers near the top. */
export const MAX_NOTICE_CHARS = 64 * 1024;

/** Every recipient only delayed: a delay notice (a warning), not a bounce. */
export function isDelayOnly(recipients: readonly BounceRecipientReport[]): boolean {
	return recipients.length > 0 && recipients.every((r) => r.action === 'delayed');
}

/** Where a report is read from: the message as received, postal-mime's parse, and its raw header section. */
export interface ReportSource {
	raw: Uint8Array;
	parsed: Email;
	/** The bounce's own header section as delivered (mail/header-block.ts): its ids are read from here, never from decoded values. */
	headerBlock: string;
	/** The HTML body in htmlToText's `lines` mode, when the caller made it already (the forwarding check reads the same view). */
	htmlLines?: string;
}
