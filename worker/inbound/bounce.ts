/**
 * Bounce recognition (SPEC §10 "Bounces"): is an inbound message a delivery status
 * notification, which outbound message does it concern, and what happened to each recipient?
 * Pure: plain values in, plain values out.
 *
 * Two shapes:
 * - `dsn`: an RFC 3464 report, `multipart/report; report-type=delivery-status` (RFC 6522),
 *   read from its `message/delivery-status` part. postal-mime lists that part, the returned
 *   `message/rfc822` and `text/rfc822-headers` as attachments: a message with a report part
 *   never has its message/rfc822 parts parsed inline (postal-mime `hasReportParts`).
 * - `plain`: the many bounces that are not RFC 3464 (qmail, Yahoo, older Postfix, Sendmail
 *   and Exchange, older Exim and Gmail). They are recognised only when the sender is a mailer
 *   and the words are a bounce's, and only when a Message-ID for the returned message can be
 *   found (its attached or copied headers, else the bounce's Original-Message-ID, In-Reply-To
 *   or References); recipient, status and diagnostic are read from the text where given.
 *
 * A person forwarding a bounce, an auto-reply and a customer who writes "undeliverable" are
 * not bounces: none of them is a report, and none comes from a mailer.
 *
 * Anyone can write a report, and anyone who received a reply knows its Message-ID (every later
 * References names it). So `judgeBounce` lets a report change a reply only when the returned
 * message names the reply (its headers, or Original-Message-ID) and the recipients it says
 * failed are the reply's own: at most a recipient can report its own address. The report's own
 * In-Reply-To and References only find the reply to record an unverified report on.
 */
import type { Address, Attachment, Email } from 'postal-mime';
import { isMessageId, parseMessageId, parseMessageIdList } from '../../src/lib/schema/message-id';
import type { UnverifiedBounce } from '../../src/lib/schema/outbound';
import { htmlToText } from '../mail/html-text';

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

export interface RecognizeBounceInput {
	/** The message as received; searched for the returned message's headers when no part carries them. */
	raw: Uint8Array;
	/** postal-mime's parse, with `rfc822Attachments: true` like the email() handler. */
	parsed: Email;
	/** SMTP MAIL FROM (`message.from`); empty or `<>` for a bounce (RFC 5321 §4.5.5). */
	envelopeFrom: string;
}

/** Characters of a delivery-status part read; a report names each recipient in a few hundred. */
export const MAX_REPORT_CHARS = 64 * 1024;
/** Characters of the bounce's text searched: MTAs put their notice and any returned headers near the top. */
export const MAX_NOTICE_CHARS = 64 * 1024;
/** Characters of a returned message or headers part read for its header block. */
export const MAX_RETURNED_HEADER_CHARS = 64 * 1024;
/** Bytes of the raw message searched for a returned Message-ID when no part or text gave one. */
export const MAX_RAW_SCAN_BYTES = 1024 * 1024;
/**
 * Recipients read from one bounce. RFC 5321 §4.5.3.1.8 makes 100 the smallest recipient
 * limit a server must accept, so one message, and its report, rarely names more.
 */
export const MAX_REPORT_RECIPIENTS = 100;
/** Ids taken from the bounce's References: the nearest ones are the likely match. */
export const MAX_REFERENCES = 20;

/** Returns the bounce report when `parsed` is a bounce, else null. */
export function recognizeBounce({ raw, parsed, envelopeFrom }: RecognizeBounceInput): BounceReport | null {
	const mailer = isMailerSender(envelopeFrom, parsed);
	const statusParts = parsed.attachments.filter((a) => DELIVERY_STATUS_TYPES.has(a.mimeType));
	// RFC 6522 §3: the report type names the second part. A report part inside a forwarded
	// message also reaches `attachments` (postal-mime parses inline message/rfc822), so
	// without the top-level type only a mailer's message counts.
	if (isDeliveryStatusReport(header(parsed.headers, 'content-type')) || (mailer && statusParts.length > 0)) {
		return readDsn(raw, parsed, statusParts);
	}
	if (!mailer) return null;
	return readPlainBounce(raw, parsed);
}

/**
 * The recipients the report says were not delivered. A report can also name recipients that
 * were delivered, relayed or expanded (RFC 3464 §2.3.3, a NOTIFY=SUCCESS request), or only
 * delayed ones: a message is `bounced` only when this is not empty. A recipient without an
 * Action has one from its status or its reply code when it gives one (recipientFromFields);
 * without any, nothing says it failed.
 */
export function failedRecipients(report: BounceReport): BounceRecipientReport[] {
	return report.recipients.filter((r) => r.action === 'failed');
}

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
	const named = report.delayOnly ? report.recipients : failedRecipients(report);
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

// ---------------------------------------------------------------------------------------
// RFC 3464 reports

/** RFC 3464 §2.1 and RFC 6533 §6.2 (internationalised). */
const DELIVERY_STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
/** The returned message (RFC 3464 §2 third part): whole, or its headers only (RFC 6522 §4, RFC 6533 §6.3/§6.4). */
const RETURNED_TYPES = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']);
/** Fields that open or belong to a per-recipient group (RFC 3464 §2.3). */
const RECIPIENT_FIELDS = new Set(['original-recipient', 'final-recipient', 'action', 'status', 'remote-mta', 'diagnostic-code']);

function isDeliveryStatusReport(contentType: string | undefined): boolean {
	if (!contentType || !/^\s*multipart\/report\b/i.test(contentType)) return false;
	const reportType = /;\s*report-type\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();
	return reportType === 'delivery-status' || reportType === 'global-delivery-status';
}

function readDsn(raw: Uint8Array, parsed: Email, statusParts: Attachment[]): BounceReport {
	let reportingMta: string | null = null;
	const originalIds: string[] = [];
	const recipients: BounceRecipientReport[] = [];
	for (const part of statusParts) {
		const groups = parseFieldGroups(attachmentText(part, MAX_REPORT_CHARS));
		for (const group of groups) {
			for (const field of group) {
				if (field.name === 'reporting-mta') reportingMta ??= cleanMtaName(field.value);
				// Not RFC 3464 fields, but Gmail and others name the returned message this way.
				if (field.name === 'original-message-id' || field.name === 'x-original-message-id') {
					const id = parseMessageId(field.value);
					if (id) originalIds.push(id);
				}
			}
			if (group.some((f) => RECIPIENT_FIELDS.has(f.name))) recipients.push(...readRecipientGroup(group));
		}
	}
	const ids = collectIds(parsed, [...returnedIds(raw, parsed), ...originalIds]);
	const limited = recipients.slice(0, MAX_REPORT_RECIPIENTS);
	return { format: 'dsn', reportingMta, ...ids, recipients: limited, delayOnly: isDelayOnly(limited) };
}

/** One blank-line group holds one recipient (RFC 3464 §2.1); some MTAs leave out the blank line between two. */
function readRecipientGroup(group: Field[]): BounceRecipientReport[] {
	const out: BounceRecipientReport[] = [];
	let current: Record<string, string> = {};
	const flush = () => {
		if (Object.keys(current).length > 0) out.push(recipientFromFields(current));
		current = {};
	};
	for (const { name, value } of group) {
		if (!RECIPIENT_FIELDS.has(name)) continue;
		// RFC 3464 §2.3 allows each field once per recipient, in any order: a repeated one starts the next recipient.
		if (name in current) flush();
		current[name] = value;
	}
	flush();
	return out;
}

function recipientFromFields(fields: Record<string, string>): BounceRecipientReport {
	const recipient = fields['final-recipient'] ?? fields['original-recipient'];
	const original = fields['original-recipient'];
	const diagnosticCode = fields['diagnostic-code'] ? stripTypePrefix(fields['diagnostic-code']) || null : null;
	const status = enhancedCode(fields['status'] ?? null) ?? enhancedCode(diagnosticCode);
	const action = fields['action']?.trim().split(/[\s(;]/)[0]?.toLowerCase() || actionFromStatus(status ?? REPLY_CODE.exec(diagnosticCode ?? '')?.[1] ?? null);
	return {
		finalRecipient: recipient ? cleanAddress(stripTypePrefix(recipient)) : null,
		originalRecipient: original ? cleanAddress(stripTypePrefix(original)) || null : null,
		action,
		status,
		diagnosticCode,
		remoteMta: fields['remote-mta'] ? cleanMtaName(fields['remote-mta']) : null,
		hint: bounceHint(status, diagnosticCode)
	};
}

/** RFC 3464 §2.3.3 makes Action required; when it is missing, the status (or SMTP reply code) class says enough. */
function actionFromStatus(status: string | null): string | null {
	if (!status) return null;
	return status.startsWith('5') ? 'failed' : status.startsWith('4') ? 'delayed' : 'delivered';
}

function isDelayOnly(recipients: BounceRecipientReport[]): boolean {
	return recipients.length > 0 && recipients.every((r) => r.action === 'delayed');
}

// ---------------------------------------------------------------------------------------
// Plain-text bounces

/** Local parts mail systems send bounces from (RFC 5321 §4.5.5 null sender aside). */
const MAILER_LOCAL_PART = /^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|microsoftexchange[0-9a-f]*)$/i;
/** Display names the common MTAs give their bounces. */
const MAILER_NAME = /\b(?:mail delivery (?:subsystem|system|service)|mailer[- ]daemon|postmaster|microsoft outlook|microsoft exchange)\b/i;

/** Subjects of bounces and delay notices, in the wording of the common MTAs. */
const BOUNCE_SUBJECT =
	/\b(?:undeliver(?:able|ed)|returned mail|returning message|failure notice|non-?delivery|delivery (?:status notification|failure|failed|has failed|notification|problem|delayed)|mail delivery (?:failed|failure|problem)|could not be delivered|delayed mail|message \S{1,40} delayed)\b/i;
/** The notice's own words; a mailer's message without any of these (an auto-reply, a digest) is not a bounce. */
const BOUNCE_TEXT =
	/could(?: not|n't) be delivered|(?:was|were)(?: not|n't) able to deliver|unable to deliver|delivery has failed|delivery to the following recipients? (?:failed|has been delayed)|failed permanently|permanent fatal errors|address\(es\) failed|has not yet been delivered|still being retried|transcript of session follows|qmail-send program|created automatically by mail delivery software|wasn't delivered to|error occurred while trying to deliver/i;

/** Where the returned copy starts; recipients are read only above it. */
const RETURNED_COPY_MARKERS: readonly RegExp[] = [
	/^-{2,}\s*Below this line is a copy of the message/im, // qmail, Yahoo
	/^-{2,}\s*This is a copy of the message/im, // Exim: "…, including all the headers." / "…'s headers."
	/^-{2,}\s*(?:Original message|Unsent message follows|Original message follows|Returned message)/im, // Gmail (old), Sendmail
	/^Original message headers:/im, // Exchange 2007-2013
	/^-{2,}\s*The header of the original message/im
];

/** A recipient line: `<addr>:` (qmail, Yahoo), `<addr>: reason` (Postfix), `<addr>` (Sendmail), or the address alone (Exim, Exchange, Gmail). */
const ANGLE_RECIPIENT = /^[ \t]*<([^<>\s@]+@[^<>\s@]+)>(?:[ \t]+\(expanded from <[^<>]*>\))?(?:[ \t]*:[ \t]*(.*)|[ \t]+\([^)]*\))?[ \t]*$/;
const BARE_RECIPIENT = /^[ \t]*([^<>\s@()",;:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)[ \t]*$/;

/** A host name as MTAs write it, optionally with a root dot. */
const HOST = String.raw`[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`;
/** Where the notices name the remote server. */
const REMOTE_MTA_PATTERNS: readonly RegExp[] = [
	new RegExp(String.raw`\bhost (${HOST})\.?\s*\[`, 'i'), // Postfix "host mx[ip] said:", Exim "host mx [ip]:"
	new RegExp(String.raw`\bconnect to (${HOST})\.?\[`, 'i'), // Postfix
	new RegExp(String.raw`while talking to (${HOST})\.?:`, 'i'), // Sendmail
	new RegExp(String.raw`\bby (${HOST})\.? \[`, 'i'), // Gmail (old)
	/^(\d{1,3}(?:\.\d{1,3}){3}) does not like recipient/m // qmail
];
/** Where the notices name the server that wrote them. */
const REPORTING_MTA_PATTERNS: readonly RegExp[] = [
	new RegExp(String.raw`This is the (?:mail system|Postfix program) at host (${HOST})`, 'i'),
	new RegExp(String.raw`This is the qmail-send program at (${HOST})`, 'i'),
	new RegExp(String.raw`^Generating server: (${HOST})`, 'im'), // Exchange
	new RegExp(String.raw`on the queue on (${HOST})`, 'i') // Exim delay warning
];

/** Delay notices, which say the server is still trying (Postfix, Exim, Gmail, Exchange). */
const DELAY_SUBJECT = /^\s*(?:delayed mail\b|warning: message \S+ delayed\b|delivery delayed\b)|\((?:delay|delayed)\)\s*$/i;
const DELAY_TEXT = /has not yet been delivered|still being retried|THIS IS A WARNING ONLY|delivery attempts will continue|will (?:keep trying|continue (?:trying|to try)|be retried)|has been delayed/i;

function readPlainBounce(raw: Uint8Array, parsed: Email): BounceReport | null {
	const text = (parsed.text ?? (parsed.html ? htmlToText(parsed.html, { mode: 'lines' }) : '')).slice(0, MAX_NOTICE_CHARS).replace(/\r\n?/g, '\n');
	const subject = parsed.subject ?? '';
	if (!BOUNCE_SUBJECT.test(subject) && !BOUNCE_TEXT.test(text)) return null;

	const ids = collectIds(parsed, returnedIds(raw, parsed, text));
	if (ids.returnedMessageIds.length === 0 && ids.threadMessageIds.length === 0) return null;

	const notice = noticeOf(text);
	const delayNotice = DELAY_SUBJECT.test(subject) || DELAY_TEXT.test(notice);
	const excluded = new Set(addressesOf(parsed.to).concat(addressesOf(parsed.from ? [parsed.from] : [])).map((a) => a.toLowerCase()));
	const blocks = recipientBlocks(notice, excluded);
	for (const address of failedRecipientsHeader(parsed)) {
		if (!blocks.some((b) => b.address.toLowerCase() === address.toLowerCase())) blocks.push({ address, lines: [] });
	}
	const noticeLines = notice.split('\n');
	const single = blocks.length === 1;
	const recipients = blocks.slice(0, MAX_REPORT_RECIPIENTS).map(({ address, lines }): BounceRecipientReport => {
		// When the block says nothing (Gmail, Sendmail list the address apart from the reason),
		// a notice about one recipient is all about that recipient.
		const diagnosticCode = replyFromLines(lines) ?? (single ? replyFromLines(noticeLines) : null) ?? blockText(lines);
		const status = enhancedCode(diagnosticCode);
		const remoteMta = firstMatch(REMOTE_MTA_PATTERNS, lines.join('\n')) ?? (single ? firstMatch(REMOTE_MTA_PATTERNS, notice) : null);
		// A 5.x.x status is final whatever the wording; otherwise a delay notice or a 4.x.x code means still trying.
		const action = !status?.startsWith('5') && (delayNotice || (status?.startsWith('4') && !BOUNCE_TEXT.test(notice))) ? 'delayed' : 'failed';
		return { finalRecipient: address, originalRecipient: null, action, status, diagnosticCode, remoteMta, hint: bounceHint(status, diagnosticCode) };
	});
	return { format: 'plain', reportingMta: firstMatch(REPORTING_MTA_PATTERNS, notice), ...ids, recipients, delayOnly: isDelayOnly(recipients) };
}

function isMailerSender(envelopeFrom: string, parsed: Pick<Email, 'from'>): boolean {
	const envelope = envelopeFrom.trim();
	// RFC 5321 §4.5.5: notifications are sent with a null reverse-path.
	if (envelope === '' || envelope === '<>') return true;
	const from = parsed.from;
	if (!from) return false;
	if (from.address && MAILER_LOCAL_PART.test(from.address.slice(0, from.address.lastIndexOf('@')))) return true;
	return MAILER_NAME.test(from.name);
}

function noticeOf(text: string): string {
	let end = text.length;
	for (const marker of RETURNED_COPY_MARKERS) {
		const match = marker.exec(text);
		if (match && match.index < end) end = match.index;
	}
	return text.slice(0, end);
}

interface RecipientBlock {
	address: string;
	/** The recipient's own line and the lines that follow it up to a blank line or the next recipient. */
	lines: string[];
}

function recipientBlocks(notice: string, excluded: ReadonlySet<string>): RecipientBlock[] {
	const blocks: RecipientBlock[] = [];
	let current: RecipientBlock | null = null;
	for (const line of notice.split('\n')) {
		const angle = ANGLE_RECIPIENT.exec(line);
		const address = angle?.[1] ?? BARE_RECIPIENT.exec(line)?.[1];
		if (address && !excluded.has(address.toLowerCase())) {
			const known = blocks.find((b) => b.address.toLowerCase() === address.toLowerCase());
			current = known ?? { address, lines: [] };
			if (!known) blocks.push(current);
			// Postfix writes the reason on the address line: keep it, without the address.
			if (angle?.[2]) current.lines.push(/^[ \t]*/.exec(line)![0] + angle[2]);
			continue;
		}
		if (line.trim() === '') current = null;
		else current?.lines.push(line);
	}
	return blocks;
}

/** An SMTP reply code as the notices quote it: `550 `, `550-` (RFC 5321 §4.2.1 multiline), `554:` (Yahoo), `#550` (Exchange). */
const REPLY_CODE = /(?:^|[\s#(:])([245]\d\d)([ -]|:(?=\s))/;

/** The remote server's reply, from its code to the end of its line and the lines that continue it. */
function replyFromLines(lines: readonly string[]): string | null {
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i]!;
		const match = REPLY_CODE.exec(line);
		if (!match) continue;
		const parts = [line.slice(match.index + match[0].length - match[1]!.length - match[2]!.length)];
		let multiline = match[2] === '-';
		const indent = indentOf(line);
		for (let j = i + 1; j < lines.length; j++) {
			const next = lines[j]!;
			if (next.trim() === '') break;
			const nextCode = /^\s*[245]\d\d([ -])/.exec(next);
			// Deeper indentation continues a folded line (Postfix); a `550-` line announces another (RFC 5321 §4.2.1).
			if (indentOf(next) > indent || (multiline && nextCode)) {
				parts.push(next.trim());
				if (nextCode) multiline = nextCode[1] === '-';
			} else break;
		}
		return cleanDiagnostic(parts.join(' '));
	}
	return null;
}

/** A block without a reply code (qmail's local errors, old Postfix): its words are the diagnostic. */
function blockText(lines: readonly string[]): string | null {
	const text = lines.map((l) => l.trim()).join(' ');
	return text ? cleanDiagnostic(text) : null;
}

function cleanDiagnostic(text: string): string | null {
	const cleaned = collapse(text)
		.replace(/^#/, '')
		.replace(/\s*##$/, '') // Exchange: "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"
		.replace(/^\(reason:\s*(.*)\)$/, '$1'); // Sendmail: "(reason: 550 5.1.1 … User unknown)"
	// The reply was cut out of Sendmail's "(reason: …)": its closing parenthesis stays behind.
	const unbalanced = cleaned.endsWith(')') && cleaned.split('(').length < cleaned.split(')').length;
	return (unbalanced ? cleaned.slice(0, -1) : cleaned) || null;
}

function indentOf(line: string): number {
	return /^[ \t]*/.exec(line)![0].replace(/\t/g, '        ').length;
}

/** Exim and Gmail name the failed addresses in X-Failed-Recipients. */
function failedRecipientsHeader(parsed: Email): string[] {
	return parsed.headers
		.filter((h) => h.key === 'x-failed-recipients')
		.flatMap((h) => h.value.split(','))
		.map((a) => cleanAddress(a))
		.filter((a) => a.includes('@'));
}

// ---------------------------------------------------------------------------------------
// The returned message's Message-ID

/** Returned headers' Message-IDs: from the returned part, else a copy in the text, else anywhere below the bounce's header. */
function returnedIds(raw: Uint8Array, parsed: Email, text?: string): string[] {
	const fromParts = parsed.attachments
		.filter((a) => RETURNED_TYPES.has(a.mimeType))
		.flatMap((a) => {
			const block = parseFieldGroups(headerBlock(attachmentText(a, MAX_RETURNED_HEADER_CHARS)))[0] ?? [];
			return block.filter((f) => f.name === 'message-id').flatMap((f) => parseMessageId(f.value) ?? []);
		});
	if (fromParts.length > 0) return fromParts;
	const body = text ?? (parsed.text ?? '').slice(0, MAX_NOTICE_CHARS);
	const fromText = messageIdLine(body);
	if (fromText) return [fromText];
	const own = ownMessageId(parsed);
	return rawMessageIds(raw).filter((id) => id !== own).slice(0, 1);
}

/** A Message-ID header line in text, folded or not (qmail, Yahoo, Exim and old Gmail copy the message in). */
function messageIdLine(text: string): string | null {
	const id = /^[ \t]*Message-ID:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]{1,512})>/im.exec(text)?.[1];
	return id && isMessageId(id) ? id : null;
}

/** A message/rfc822 part postal-mime parsed inline (Content-Disposition: inline) leaves its headers only in the raw bytes. */
function rawMessageIds(raw: Uint8Array): string[] {
	const text = new TextDecoder().decode(raw.subarray(0, MAX_RAW_SCAN_BYTES));
	const bodyStart = /\r?\n\r?\n/.exec(text);
	if (!bodyStart) return [];
	const body = text.slice(bodyStart.index);
	return [...body.matchAll(/^Message-ID:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]{1,512})>/gim)].map((m) => m[1]!).filter(isMessageId);
}

function originalMessageIds(parsed: Email): string[] {
	return parsed.headers.filter((h) => h.key === 'original-message-id' || h.key === 'x-original-message-id').flatMap((h) => parseMessageId(h.value) ?? []);
}

/**
 * Ids are read from the raw header values (postal-mime's `messageId`, `inReplyTo` and
 * `references` are RFC 2047-decoded, and a msg-id is not text: RFC 2047 §5).
 */
function ownMessageId(parsed: Email): string | null {
	return parseMessageId(header(parsed.headers, 'message-id'));
}

/**
 * The returned message's ids (most specific first, then the report's Original-Message-ID) apart
 * from the report's own In-Reply-To and References (nearest first); never the report's own id.
 */
function collectIds(parsed: Email, specific: readonly string[]): Pick<BounceReport, 'returnedMessageIds' | 'threadMessageIds'> {
	const own = ownMessageId(parsed);
	const returned = [...new Set([...specific, ...originalMessageIds(parsed)])].filter((id) => id !== own);
	const references = parseMessageIdList(header(parsed.headers, 'references')).slice(-MAX_REFERENCES).reverse();
	const thread = [...new Set([...parseMessageIdList(header(parsed.headers, 'in-reply-to')), ...references])].filter((id) => id !== own && !returned.includes(id));
	return { returnedMessageIds: returned, threadMessageIds: thread };
}

// ---------------------------------------------------------------------------------------
// Hints

interface Hint {
	/** Short words for a temporary failure's reason. */
	label: string;
	hint: string;
}

const HINTS = {
	noMailbox: {
		label: 'no such mailbox',
		hint: "No such mailbox: the recipient's server says this address does not exist. Check the address for typos, or ask the recipient for a current one."
	},
	badDomain: {
		label: 'bad domain',
		hint: 'Bad domain: the part after @ does not exist or does not receive mail. Check the domain for typos.'
	},
	badSyntax: {
		label: 'malformed address',
		hint: "Malformed address: the recipient's server could not read the address. Check it for typos or stray characters."
	},
	disabled: {
		label: 'mailbox disabled',
		hint: 'Mailbox disabled: the address exists but no longer accepts mail. Ask the recipient for another address.'
	},
	full: {
		label: 'mailbox full',
		hint: 'Mailbox full: the recipient is over their storage quota. Retry later, or reach them another way.'
	},
	tooLarge: {
		label: 'message too large',
		hint: "Message too large for the recipient's server. Send smaller or fewer attachments (a link instead of a file)."
	},
	routing: {
		label: "the recipient's mail server could not be found or reached",
		hint: "Routing or DNS problem: the recipient's mail server could not be found or reached. Check the recipient domain's MX records for typos; if they look right, the problem is on the recipient's side."
	},
	expired: {
		label: 'delivery time expired',
		hint: "Gave up after retrying: the recipient's server could not be reached for days. Check the recipient domain's MX records, then retry."
	},
	dmarc: {
		label: 'DMARC',
		hint: "Refused for DMARC: the message failed the sending domain's DMARC policy. Check that the SMTP server is in the domain's SPF record and signs with DKIM for the From domain, so that SPF or DKIM passes and aligns."
	},
	spf: {
		label: 'SPF',
		hint: "Refused for SPF: the sending domain's SPF record does not allow the SMTP server. Add the server (or its provider's include) to the domain's SPF record."
	},
	dkim: {
		label: 'DKIM',
		hint: "Refused for DKIM: the signature was missing or did not verify. Check that the SMTP server signs with DKIM and that the domain publishes the matching key."
	},
	reverseDns: {
		label: 'reverse DNS',
		hint: "Refused for reverse DNS: the sending server's IP address has no matching PTR record. Ask the SMTP provider to set one."
	},
	blockList: {
		label: 'block list',
		hint: "Refused by policy: the sending server's IP address is on a block list (the diagnostic usually names it). Look the IP up on that list and ask for delisting, or send through another SMTP server."
	},
	policy: {
		label: 'refused by policy',
		hint: "Refused by the recipient server's policy: often the sending domain's SPF, DKIM or DMARC, or the sending server's IP on a block list. Check the domain's SPF, DKIM and DMARC records and the server's IP on block lists; the diagnostic usually says which."
	},
	system: {
		label: "the recipient's mail system is not accepting mail",
		hint: "The recipient's mail system is not accepting mail (full, misconfigured or down). Retry later."
	},
	protocol: {
		label: 'SMTP protocol error',
		hint: "The recipient's server refused the SMTP conversation itself. The diagnostic says which command; the SMTP server's settings may need a change."
	}
} satisfies Record<string, Hint>;

const TEMPORARY_HINT =
	'Temporary failure: the remote server is still trying and will keep retrying for some time, so nothing needs doing yet. If it finally gives up, the bounce that follows will say why.';
const DELIVERED_HINT = 'Delivered (or passed on to the next server): nothing to do.';
const DEFAULT_HINT = 'The receiving server could not deliver the message. Its own words (the diagnostic) say why.';

/** RFC 3463 subject.detail codes, with RFC 7372's authentication codes; the class is read apart. */
const STATUS_HINTS: ReadonlyArray<readonly [RegExp, Hint]> = [
	// X.1.1 bad mailbox, X.1.6 moved; Microsoft uses 5.1.10 for "RecipientNotFound" (RFC 7505 meant null MX).
	[/^1\.(?:1|6|10)$/, HINTS.noMailbox],
	[/^1\.2$/, HINTS.badDomain],
	[/^1\.3$/, HINTS.badSyntax],
	[/^2\.1$/, HINTS.disabled],
	[/^2\.2$/, HINTS.full],
	[/^(?:2\.3|3\.4)$/, HINTS.tooLarge],
	[/^4\.7$/, HINTS.expired],
	[/^4\.\d+$/, HINTS.routing],
	// RFC 7372 §3.3 X.7.26 "multiple authentication checks failed" (Gmail's DMARC rejection); Microsoft's 5.7.509.
	[/^7\.(?:26|509)$/, HINTS.dmarc],
	[/^7\.2[34]$/, HINTS.spf], // RFC 7372 §3.2
	[/^7\.2[012]$/, HINTS.dkim], // RFC 7372 §3.1
	[/^7\.25$/, HINTS.reverseDns], // RFC 7372 §3.4
	[/^3\.\d+$/, HINTS.system],
	[/^5\.\d+$/, HINTS.protocol]
];

/** Words of a refusal, for a generic 5.7.x and for diagnostics without a usable code. Policy words come first. */
const POLICY_WORDS: ReadonlyArray<readonly [RegExp, Hint]> = [
	[/\bdmarc\b/i, HINTS.dmarc],
	[/\bspf\b/i, HINTS.spf],
	[/\bdkim\b/i, HINTS.dkim],
	[/spamhaus|spamcop|barracuda|block ?list|black ?list|\b(?:dns)?rbl\b|blocked using|listed (?:at|on|in)\b/i, HINTS.blockList],
	[/reverse dns|\bptr\b|\brdns\b/i, HINTS.reverseDns]
];
const OTHER_WORDS: ReadonlyArray<readonly [RegExp, Hint]> = [
	[/host or domain name not found|name service error|domain (?:not found|does not exist)|\bno mx\b|unroutea?ble|no route to host/i, HINTS.routing],
	[/mailbox (?:is )?full|over quota|quota exceeded|insufficient (?:system )?storage/i, HINTS.full],
	[/too (?:large|big)|size exceeds|exceeds (?:the )?(?:maximum|size)/i, HINTS.tooLarge],
	[
		/user unknown|unknown user|no such (?:user|mailbox|recipient)|does ?n(?:o|')t exist|doesn'?t have an? \S+ account|recipient ?not ?found|recipnotfound|not a valid recipient|invalid (?:recipient|mailbox)|mailbox unavailable|no mailbox/i,
		HINTS.noMailbox
	],
	[/\b(?:refused|denied|rejected for policy reasons|spam)\b/i, HINTS.policy]
];

/** SPEC §10: a hint from the status code (and the diagnostic words when there is no code). */
export function bounceHint(status: string | null, diagnostic: string | null): string {
	const code = effectiveCode(status, diagnostic);
	const codeClass = code?.[0] ?? REPLY_CODE.exec(diagnostic ?? '')?.[1]?.[0] ?? null;
	if (codeClass === '2') return DELIVERED_HINT;
	const subjectDetail = code?.slice(2) ?? null;
	let hint: Hint | undefined = subjectDetail ? STATUS_HINTS.find(([pattern]) => pattern.test(subjectDetail))?.[1] : undefined;
	const words = diagnostic ?? '';
	// A generic 7.x refusal: the diagnostic often says which check failed.
	if (!hint && subjectDetail?.startsWith('7.')) hint = POLICY_WORDS.find(([pattern]) => pattern.test(words))?.[1] ?? HINTS.policy;
	hint ??= [...POLICY_WORDS, ...OTHER_WORDS].find(([pattern]) => pattern.test(words))?.[1];
	if (codeClass === '4') return hint ? `${TEMPORARY_HINT} Reason given: ${hint.label}.` : TEMPORARY_HINT;
	return hint?.hint ?? DEFAULT_HINT;
}

/**
 * The most specific enhanced code: Exim and others write X.0.0 ("other undefined status",
 * RFC 3463 §3.1) in Status and leave the remote server's own code in the diagnostic.
 */
function effectiveCode(status: string | null, diagnostic: string | null): string | null {
	const fromStatus = enhancedCode(status);
	const fromDiagnostic = enhancedCode(diagnostic);
	if (fromStatus && !fromStatus.endsWith('.0.0')) return fromStatus;
	if (fromDiagnostic && (!fromStatus || fromDiagnostic[0] === fromStatus[0])) return fromDiagnostic;
	return fromStatus;
}

/** RFC 3463 §2: class.subject.detail, class 2, 4 or 5; not a piece of an IP address or a date. */
function enhancedCode(text: string | null): string | null {
	if (!text) return null;
	return /(?:^|[\s#(\[;:,-])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s),;:\]])/.exec(text)?.[1] ?? null;
}

// ---------------------------------------------------------------------------------------
// Small readers

interface Field {
	/** Lower case. */
	name: string;
	/** Unfolded (RFC 5322 §2.2.3), runs of white space collapsed. */
	value: string;
}

/** Header-style fields in blank-line separated groups: RFC 3464 §2.1's per-message and per-recipient groups, or a header block. */
function parseFieldGroups(text: string): Field[][] {
	const groups: Field[][] = [];
	let group: Field[] = [];
	for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
		if (line.trim() === '') {
			if (group.length > 0) groups.push(group);
			group = [];
		} else if (/^[ \t]/.test(line)) {
			const last = group[group.length - 1];
			if (last) last.value = collapse(`${last.value} ${line}`);
		} else {
			const colon = line.indexOf(':');
			if (colon > 0) group.push({ name: line.slice(0, colon).trim().toLowerCase(), value: collapse(line.slice(colon + 1)) });
		}
	}
	if (group.length > 0) groups.push(group);
	return groups;
}

/** The header block of a message: everything up to the first blank line. */
function headerBlock(text: string): string {
	const end = /\r?\n\r?\n/.exec(text);
	return end ? text.slice(0, end.index) : text;
}

function attachmentText(attachment: Attachment, limit: number): string {
	const { content } = attachment;
	if (typeof content === 'string') {
		if (attachment.encoding !== 'base64') return content.slice(0, limit);
		const binary = atob(content.slice(0, Math.ceil((limit * 4) / 3 / 4) * 4));
		return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
	}
	const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
	return new TextDecoder().decode(bytes.subarray(0, limit));
}

/** RFC 3464 §2.1.2 typed fields: "rfc822; x@y", "dns; host", "smtp; 550 …". */
function stripTypePrefix(value: string): string {
	return collapse(value.replace(/^\s*[A-Za-z][A-Za-z0-9-]*\s*;\s*/, ''));
}

/** A dns-type MTA name, without the type, a trailing comment (Gmail adds "(ip, the server for …)") or the root dot. */
function cleanMtaName(value: string): string | null {
	const name = stripTypePrefix(value)
		.replace(/\s*\([^()]*\)\s*$/, '')
		.replace(/\.$/, '');
	return name || null;
}

function cleanAddress(value: string): string {
	return value.trim().replace(/^<(.*)>$/, '$1').trim();
}

function collapse(text: string): string {
	return text.replace(/\s+/g, ' ').trim();
}

function firstMatch(patterns: readonly RegExp[], text: string): string | null {
	for (const pattern of patterns) {
		const match = pattern.exec(text);
		if (match?.[1]) return match[1];
	}
	return null;
}

function header(headers: ReadonlyArray<{ key: string; value: string }>, name: string): string | undefined {
	return headers.find((h) => h.key === name)?.value;
}

function addressesOf(list: readonly Address[] | undefined): string[] {
	return (list ?? []).flatMap((a) => (a.group ? a.group.map((m) => m.address) : [a.address]));
}
