/**
 * The many bounces that are not RFC 3464 (qmail and its forks, Yahoo, older Postfix, Sendmail
 * and Exchange, older Exim and Gmail, GMX and Web.de, DragonFly, IMail, Domino). They are
 * recognised only when the sender is a mailer and the words are a bounce's, and only when a Message-ID for the returned message can be found
 * (its attached or copied headers, else the bounce's Original-Message-ID, In-Reply-To or
 * References); recipient, status and diagnostic are read from the text where given. Pure.
 */
import type { Email } from 'postal-mime';
import { htmlToText } from '../../mail/html-text';
import { DRAGONFLY_RECIPIENT, DRAGONFLY_REMOTE_MTA, DRAGONFLY_REPORTING_MTA, dragonflyGmxStatus, GMX_RECIPIENT, GMX_REMOTE_MTA } from './dragonfly-gmx';
import { EXCHANGE_RECIPIENT, exchangeStatus, withoutTransferId } from './exchange-ims';
import { addressesOf, cleanAddress, collapse, firstMatch } from './fields';
import { bounceHint, enhancedCode, REPLY_CODE } from './hints';
import { collectIds, returnedIds } from './ids';
import { IMAIL_RECIPIENT, imailStatus } from './imail';
import { qmailStatus } from './qmail';
import { isDelayOnly, MAX_NOTICE_CHARS, MAX_REPORT_RECIPIENTS, type BounceRecipientReport, type BounceReport, type ReportSource } from './report';

/** Local parts mail systems send bounces from (RFC 5321 §4.5.5 null sender aside). */
const MAILER_LOCAL_PART = /^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|microsoftexchange[0-9a-f]*)$/i;
/** Display names the common MTAs give their bounces. */
const MAILER_NAME = /\b(?:mail delivery (?:subsystem|system|service)|mailer[- ]daemon|postmaster|microsoft outlook|microsoft exchange)\b/i;

/** Subjects of bounces and delay notices, in the wording of the common MTAs. */
const BOUNCE_SUBJECT =
	/\b(?:undeliver(?:able|ed)|returned mail|returning message|failure notice|non-?delivery|delivery (?:status notification|failure|failed|has failed|notification|problem|delayed)|mail delivery (?:failed|failure|problem)|could not be delivered|delayed mail|message \S{1,40} delayed)\b/i;
/** The notice's own words; a mailer's message without any of these (an auto-reply, a digest) is not a bounce. */
const BOUNCE_TEXT =
	/could(?: not|n't) be delivered|(?:was|were)(?: not|n't) able to deliver|did not reach (?:the following recipient|some or all of the intended recipient)|there was an error delivering your mail|was not delivered to|unable to deliver|delivery has failed|delivery to the following recipients? (?:failed|has been delayed)|failed permanently|permanent fatal errors|address\(es\) failed|has not yet been delivered|still being retried|transcript of session follows|qmail-send program|created automatically by mail delivery software|wasn't delivered to|error occurred while trying to deliver/i;

/** Where the returned copy starts; recipients are read only above it. */
const RETURNED_COPY_MARKERS: readonly RegExp[] = [
	/^-{2,}\s*Below this line is a copy of the message/im, // qmail, Yahoo
	/^-{2,}\s*This is a copy of the message/im, // Exim: "…, including all the headers." / "…'s headers."
	/^-{2,}\s*(?:Original message|Unsent message follows|Original message follows|Returned message)/im, // Gmail (old), Sendmail
	/^Original message headers:/im, // Exchange 2007-2013
	/^-{2,}\s*The header of the original message/im, // GMX, Web.de
	/^-{2,}\s*Enclosed is a copy of the message/im, // IndiMail
	/^(?:Original message follows|Message headers follow)\.\s*$/im // IMail, DragonFly
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
	/^(\d{1,3}(?:\.\d{1,3}){3}) does not like recipient/m, // qmail
	/\bremote host (\d{1,3}(?:\.\d{1,3}){3}) said:/, // qmail: "no SMTP connection got far enough; … remote host 192.0.2.32 said: 550 …"
	DRAGONFLY_REMOTE_MTA,
	GMX_REMOTE_MTA
];
/** Where the notices name the server that wrote them. */
const REPORTING_MTA_PATTERNS: readonly RegExp[] = [
	new RegExp(String.raw`This is the (?:mail system|Postfix program) at host (${HOST})`, 'i'),
	new RegExp(String.raw`This is the qmail-send program at (${HOST})`, 'i'),
	new RegExp(String.raw`^Generating server: (${HOST})`, 'im'), // Exchange
	new RegExp(String.raw`on the queue on (${HOST})`, 'i'), // Exim delay warning
	DRAGONFLY_REPORTING_MTA
];

/** Delay notices, which say the server is still trying (Postfix, Exim, Gmail, Exchange). */
const DELAY_SUBJECT = /^\s*(?:delayed mail\b|warning: message \S+ delayed\b|delivery delayed\b)|\((?:delay|delayed)\)\s*$/i;
const DELAY_TEXT = /has not yet been delivered|still being retried|THIS IS A WARNING ONLY|delivery attempts will continue|will (?:keep trying|continue (?:trying|to try)|be retried)|has been delayed/i;

/** The report of a plain-text bounce, or null when the words are not a bounce's or no id says which message it returns. */
export function readPlainBounce(source: ReportSource): BounceReport | null {
	const { parsed } = source;
	// A notice in UTF-7 is decoded already (inbound/parse-mail.ts).
	const body = parsed.text ?? (parsed.html ? (source.htmlLines ?? htmlToText(parsed.html, { mode: 'lines' })) : '');
	const text = body.slice(0, MAX_NOTICE_CHARS).replace(/\r\n?/g, '\n');
	const subject = parsed.subject ?? '';
	if (!BOUNCE_SUBJECT.test(subject) && !BOUNCE_TEXT.test(text)) return null;

	const ids = collectIds(source, returnedIds(source, text));
	if (ids.returnedMessageIds.length === 0 && ids.threadMessageIds.length === 0) return null;

	const notice = noticeOf(text);
	const delayNotice = DELAY_SUBJECT.test(subject) || DELAY_TEXT.test(notice);
	const excluded = new Set(addressesOf(parsed.to).concat(addressesOf(parsed.from ? [parsed.from] : [])).map((a) => a.toLowerCase()));
	const blocks = recipientBlocks(notice, excluded);
	for (const address of failedRecipientsHeader(parsed)) {
		if (!blocks.some((b) => b.address.toLowerCase() === address.toLowerCase())) blocks.push({ address, at: -1, lines: [] });
	}
	const noticeLines = notice.split('\n');
	const single = blocks.length === 1;
	const recipients = blocks.slice(0, MAX_REPORT_RECIPIENTS).map(({ address, at, lines: written }): BounceRecipientReport => {
		const lines = withoutTransferId(written);
		// When the block says nothing (Gmail, Sendmail list the address apart from the reason),
		// a notice about one recipient is all about that recipient: its reply, else the
		// paragraph after the address (Domino's "because:", GMX's "Reason:", DragonFly).
		const diagnosticCode =
			replyFromLines(lines) ?? (single ? replyFromLines(noticeLines) : null) ?? blockText(lines) ?? (single ? blockText(paragraphAfter(noticeLines, at)) : null);
		const words = [...lines, diagnosticCode ?? ''].join('\n');
		// The remote server's code first; else what the MTA wrote in its own words (SPEC §15).
		const status = enhancedCode(diagnosticCode) ?? qmailStatus(words) ?? exchangeStatus(words) ?? imailStatus(words) ?? dragonflyGmxStatus(words);
		const remoteMta = firstMatch(REMOTE_MTA_PATTERNS, lines.join('\n')) ?? (single ? firstMatch(REMOTE_MTA_PATTERNS, notice) : null);
		// A 5.x.x status is final whatever the wording; otherwise a delay notice or a 4.x.x code means still trying.
		const action = !status?.startsWith('5') && (delayNotice || (status?.startsWith('4') && !BOUNCE_TEXT.test(notice))) ? 'delayed' : 'failed';
		return { finalRecipient: address, originalRecipient: null, action, status, diagnosticCode, remoteMta, hint: bounceHint(status, diagnosticCode) };
	});
	return { format: 'plain', reportingMta: firstMatch(REPORTING_MTA_PATTERNS, notice), ...ids, recipients, delayOnly: isDelayOnly(recipients) };
}

/** A mailer's message: the null sender (RFC 5321 §4.5.5) or a mailer's address or name in From. */
export function isMailerSender(envelopeFrom: string, parsed: Pick<Email, 'from'>): boolean {
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
	/** The index of the recipient's first line in the notice; -1 when only X-Failed-Recipients names it. */
	at: number;
	/** The recipient's own line and the lines that follow it up to a blank line or the next recipient. */
	lines: string[];
}

/** Recipient lines of the formats whose address line holds nothing else to keep. */
const OTHER_RECIPIENT_LINES: readonly RegExp[] = [BARE_RECIPIENT, EXCHANGE_RECIPIENT, GMX_RECIPIENT, DRAGONFLY_RECIPIENT];

function recipientBlocks(notice: string, excluded: ReadonlySet<string>): RecipientBlock[] {
	const blocks: RecipientBlock[] = [];
	let current: RecipientBlock | null = null;
	for (const [index, line] of notice.split('\n').entries()) {
		const angle = ANGLE_RECIPIENT.exec(line);
		const imail = angle ? null : IMAIL_RECIPIENT.exec(line);
		const address = angle?.[1] ?? imail?.[1] ?? firstMatch(OTHER_RECIPIENT_LINES, line);
		if (address && !excluded.has(address.toLowerCase())) {
			const known = blocks.find((b) => b.address.toLowerCase() === address.toLowerCase());
			current = known ?? { address, at: index, lines: [] };
			if (!known) blocks.push(current);
			// Postfix writes the reason on the address line: keep it, without the address; IMail's line is all reason.
			if (angle?.[2]) current.lines.push(/^[ \t]*/.exec(line)![0] + angle[2]);
			if (imail) current.lines.push(line);
			continue;
		}
		if (line.trim() === '') current = null;
		else current?.lines.push(line);
	}
	return blocks;
}


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

/** Lines read of the paragraph after a recipient's line: the notices write a reason in a few. */
const MAX_PARAGRAPH_LINES = 20;

/** The paragraph after a recipient's line; "Reason:" (GMX) and "because:" (Domino, alone on its line) introduce it. */
function paragraphAfter(lines: readonly string[], at: number): string[] {
	if (at < 0) return [];
	const paragraph: string[] = [];
	for (let i = at + 1; i < lines.length && paragraph.length < MAX_PARAGRAPH_LINES; i++) {
		const line = lines[i]!;
		if (line.trim() !== '') paragraph.push(line);
		else if (paragraph.length === 1 && LABEL.test(paragraph[0]!)) paragraph.length = 0;
		else if (paragraph.length > 0) break;
	}
	if (paragraph.length > 0) paragraph[0] = paragraph[0]!.replace(LABEL, '');
	return paragraph.filter((line) => line.trim() !== '');
}
const LABEL = /^\s*(?:because|reason):\s*/i;

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
