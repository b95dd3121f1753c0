/**
 * Forwarding classification of an inbound message (SPEC §5.4).
 *
 * - `native`: a mail server passed the message on unchanged. The original From, To and
 *   body are kept, so the envelope recipient (our service address) is usually not among
 *   the header recipients, and forwarders leave traces: SRS, X-Forwarded-*, Resent-*,
 *   a hop that received it for the original recipient.
 * - `manual`: a person pressed "Forward": a new message from them, the original quoted in
 *   the body under a "Forwarded message" separator, or attached as message/rfc822.
 * - `none`: sent to the service address directly.
 *
 * Manual wins over native: a hand-forwarded message can still travel through a
 * forwarding server afterwards, and what matters to the policy is the person's edit.
 */
import type { Address, Email } from 'postal-mime';
import { htmlToText } from '../mail/html-text';

/**
 * Received fields a directly sent message usually carries: a few at the sender (Microsoft
 * 365 alone adds up to about eight internal hops) plus Cloudflare's MX. More than this is
 * worth mentioning, but only as supporting evidence: big senders vary a lot.
 */
export const USUAL_RECEIVED_HOPS = 10;
/** Characters of the text or HTML body searched for a forwarded block; headers of the quoted message sit near the top. */
export const MAX_BODY_SCAN_CHARS = 64 * 1024;
/** Lines after an Outlook-style `From:` line within which `Sent:` and `Subject:` must follow. */
const OUTLOOK_BLOCK_LINES = 8;

export type ForwardingClass = 'none' | 'native' | 'manual';

export interface ForwardingVerdict {
	class: ForwardingClass;
	/** What was seen, in sentences an admin can read; also the weak signs that decided nothing. */
	evidence: string[];
}

export interface ClassifyForwardingInput {
	/** SMTP MAIL FROM (`message.from` in the email() handler); empty for bounces. */
	envelopeFrom: string;
	/** SMTP RCPT TO (`message.to`), the service address the message was delivered to. */
	envelopeTo: string;
	/** Every header field in order, top first (postal-mime's `headers` fit). */
	headers: ReadonlyArray<{ key: string; value: string }>;
	/** postal-mime's parse. Parse with `rfc822Attachments: true` so an attached message without Content-Disposition is listed as an attachment. */
	parsed: Pick<Email, 'to' | 'cc' | 'subject' | 'text' | 'html' | 'attachments'>;
	/** Every address of the mailbox (the envelope recipient is always included). */
	serviceAddresses?: readonly string[];
	/** The HTML body in htmlToText's `lines` mode, when the caller made it already (the bounce check reads the same view). */
	htmlLines?: string;
}

export function classifyForwarding(input: ClassifyForwardingInput): ForwardingVerdict {
	const manual = manualEvidence(input);
	const native = nativeEvidence(input);
	const evidence = [...manual.evidence, ...native.evidence];
	const verdict: ForwardingClass = manual.decided ? 'manual' : native.decided ? 'native' : 'none';
	return { class: verdict, evidence };
}

/** The reason given when the mailbox policy rejects manual forwards (SPEC §5.4, §9). */
export function manualForwardRejectReason(): string {
	return (
		'This message was forwarded by hand from a mail client, and this mailbox does not accept manual forwards. ' +
		"Use your mail server's own (native) forwarding instead: it keeps the original sender, recipient and signatures."
	);
}

// ---------------------------------------------------------------------------------------
// Manual forwarding

/**
 * Forward prefixes mail clients put on the subject: Fwd/Fw (English), WG (German
 * "Weitergeleitet"), TR (French "Transféré"), RV (Spanish "Reenviado"), after any reply
 * prefixes and gateway tags such as `[EXTERNAL]`.
 */
const FORWARD_SUBJECT = /^\s*(?:(?:\[[^\]]{0,40}\]|(?:re|aw|sv|antw)\s*(?:\[\d+\])?\s*:)\s*)*(fwd?|wg|tr|rv)\s*(?:\[\d+\])?\s*:/i;

/** Separator lines mail clients write above the quoted message. */
const FORWARD_SEPARATORS: ReadonlyArray<{ pattern: RegExp; client: string }> = [
	{ pattern: /^-{2,}\s*Forwarded message\s*-{2,}/im, client: 'Gmail' },
	{ pattern: /^-{2,}\s*(?:Weitergeleitete Nachricht|Message transféré|Mensaje reenviado|Mensagem encaminhada|Messaggio inoltrato)\s*-{2,}/im, client: 'Gmail (localised)' },
	{ pattern: /^-{2,}\s*Original Message\s*-{2,}/im, client: 'Thunderbird or Outlook' },
	{ pattern: /^-{2,}\s*Forwarded Message\s*-{2,}/im, client: 'Thunderbird' },
	{ pattern: /^Begin forwarded message:/im, client: 'Apple Mail' }
];

/** Outlook's header block: From, then Sent (or Date) and Subject, in the user's language. */
const OUTLOOK_FROM = /^\s*(?:From|Von|De|Da|Van)\s*:\s*\S/i;
const OUTLOOK_SENT = /^\s*(?:Sent|Date|Gesendet|Envoyé|Enviado|Inviato|Verzonden)\s*:\s*\S/i;
const OUTLOOK_SUBJECT = /^\s*(?:Subject|Betreff|Objet|Asunto|Assunto|Oggetto|Onderwerp)\s*:/i;

/** Senders that are systems, not people: RFC 3834 auto-replies, bounces, lists, digests. */
const SYSTEM_LOCAL_PART = /^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)(?:[+-]|$)/i;

function manualEvidence({ envelopeFrom, headers, parsed, htmlLines }: ClassifyForwardingInput): { decided: boolean; evidence: string[] } {
	const evidence: string[] = [];
	const subject = parsed.subject ?? '';
	const prefix = FORWARD_SUBJECT.exec(subject)?.[1];
	const block = findForwardedBlock(parsed.text, htmlLines ?? (parsed.html && htmlToText(parsed.html, { mode: 'lines' })));
	if (prefix && block) {
		evidence.push(`The subject starts with "${prefix}:" and the body quotes the original under ${block}: someone forwarded it by hand from a mail client.`);
		return { decided: true, evidence };
	}
	if (prefix) evidence.push(`The subject starts with "${prefix}:", but the body has no quoted forwarded block, so it is not treated as a manual forward.`);
	else if (block) evidence.push(`The body contains ${block}, but the subject has no forward prefix, so it is not treated as a manual forward.`);

	const attached = parsed.attachments.filter((a) => a.mimeType === 'message/rfc822' || a.mimeType === 'message/global');
	if (attached.length > 0) {
		const system = systemSenderReason(envelopeFrom, headers);
		const names = attached.map((a) => (a.filename ? `"${a.filename}"` : 'an unnamed message')).join(', ');
		if (!system) {
			evidence.push(`A person sent this with an attached email (${names}): a forward as attachment.`);
			return { decided: true, evidence };
		}
		evidence.push(`An email is attached (${names}), but ${system}, so it is not treated as a manual forward.`);
	}
	return { decided: false, evidence };
}

function findForwardedBlock(text: string | undefined, htmlLines: string | undefined): string | null {
	for (const body of [text, htmlLines]) {
		if (!body) continue;
		// Quoting (`> `) does not hide a forwarded block inside a reply.
		const sample = body.slice(0, MAX_BODY_SCAN_CHARS).replace(/^(?:[ \t]*>)+[ \t]?/gm, '');
		for (const { pattern, client } of FORWARD_SEPARATORS) {
			const match = pattern.exec(sample);
			if (match) return `a "${match[0].trim()}" separator (${client})`;
		}
		if (hasOutlookBlock(sample)) return 'an Outlook "From: … Sent: … To: … Subject:" header block';
	}
	return null;
}

function hasOutlookBlock(text: string): boolean {
	const lines = text.split(/\r?\n/);
	for (let i = 0; i < lines.length; i++) {
		if (!OUTLOOK_FROM.test(lines[i]!)) continue;
		const following = lines.slice(i + 1, i + 1 + OUTLOOK_BLOCK_LINES);
		if (following.some((line) => OUTLOOK_SENT.test(line)) && following.some((line) => OUTLOOK_SUBJECT.test(line))) return true;
	}
	return false;
}

function systemSenderReason(envelopeFrom: string, headers: ClassifyForwardingInput['headers']): string | null {
	if (envelopeFrom.trim() === '' || envelopeFrom.trim() === '<>') return 'the envelope sender is empty (a bounce)';
	const local = envelopeFrom.slice(0, envelopeFrom.lastIndexOf('@')).replace(/^</, '');
	if (SYSTEM_LOCAL_PART.test(local)) return `the sender ${envelopeFrom} is a system address`;
	const auto = header(headers, 'auto-submitted');
	// RFC 3834 §5: any value other than "no" marks automatic mail.
	if (auto && auto.trim().toLowerCase() !== 'no') return `it is marked Auto-Submitted: ${auto.trim()} (RFC 3834)`;
	if (header(headers, 'list-id')) return 'it came through a mailing list (List-Id), which may wrap messages this way';
	const contentType = (header(headers, 'content-type') ?? '').trim().toLowerCase();
	// RFC 6522 reports and RFC 2046 §5.1.5 digests carry messages by design.
	if (contentType.startsWith('multipart/report')) return 'it is a delivery or feedback report (multipart/report)';
	if (contentType.startsWith('multipart/digest')) return 'it is a digest (multipart/digest)';
	return null;
}

// ---------------------------------------------------------------------------------------
// Native forwarding

/** SRS (Sender Rewriting Scheme, Shevek 2004): `SRS0=hash=tt=domain=local@forwarder`, `SRS1=` when forwarded again. */
const SRS = /^(SRS[01])[=+-]/i;
const SRS0_ORIGINAL = /^SRS0[=+-][^=]+=[^=]+=([^=]+)=(.+)$/i;

/** RFC 5322 §3.6.6: fields added when a message is reintroduced (redirected) unchanged. */
const RESENT_FIELDS = new Set(['resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-date', 'resent-message-id']);

function nativeEvidence({ envelopeFrom, envelopeTo, headers, parsed, serviceAddresses }: ClassifyForwardingInput): { decided: boolean; evidence: string[] } {
	const evidence: string[] = [];
	let strong = false;

	const envelopeLocal = envelopeFrom.replace(/^<|>$/g, '');
	const srs = SRS.exec(envelopeLocal);
	if (srs) {
		strong = true;
		const original = SRS0_ORIGINAL.exec(envelopeLocal.slice(0, envelopeLocal.lastIndexOf('@')));
		const forwarder = envelopeLocal.slice(envelopeLocal.lastIndexOf('@') + 1);
		evidence.push(
			`The envelope sender ${envelopeLocal} uses the Sender Rewriting Scheme (${srs[1]}), which a forwarding server (${forwarder}) applies when it passes a message on` +
				(original ? `; the original sender was ${original[2]}@${original[1]}.` : '.')
		);
	}

	for (const name of ['x-forwarded-to', 'x-forwarded-for']) {
		const value = header(headers, name);
		if (value !== undefined) {
			strong = true;
			evidence.push(`The header ${canonicalName(name)}: ${value.trim()} was added by a server that forwarded the message.`);
		}
	}

	const resent = headers.filter((h) => RESENT_FIELDS.has(h.key.toLowerCase()));
	if (resent.length > 0) {
		strong = true;
		const first = resent.find((h) => /^resent-(from|to)$/i.test(h.key)) ?? resent[0]!;
		evidence.push(`Resent-* headers (${canonicalName(first.key)}: ${first.value.trim()}) show the message was redirected unchanged (RFC 5322 §3.6.6).`);
	}

	const ours = new Set([envelopeTo, ...(serviceAddresses ?? [])].map(normalizeAddress));
	const recipients = [...flatten(parsed.to), ...flatten(parsed.cc)];
	const addressedToUs = recipients.some((address) => ours.has(address));
	const envelopeMismatch = recipients.length > 0 && !addressedToUs;
	let hopEvidence = false;
	if (envelopeMismatch) {
		evidence.push(
			`The envelope recipient ${envelopeTo} is not among the header recipients (${recipients.slice(0, 3).join(', ')}${recipients.length > 3 ? ', …' : ''}): the message was addressed to someone else and passed on (or the service address was in Bcc).`
		);
		const relay = relayedFor(headers, recipients);
		if (relay) {
			hopEvidence = true;
			evidence.push(relay);
		}
		const deliveredTo = headers.filter((h) => h.key.toLowerCase() === 'delivered-to').map((h) => normalizeAddress(h.value));
		const elsewhere = deliveredTo.find((address) => address !== '' && !ours.has(address));
		if (elsewhere) {
			hopEvidence = true;
			evidence.push(`Delivered-To: ${elsewhere} shows it was delivered to another mailbox before it reached ${envelopeTo}.`);
		}
	}

	const hops = headers.filter((h) => h.key.toLowerCase() === 'received').length;
	if (hops > USUAL_RECEIVED_HOPS) {
		evidence.push(`It passed through ${hops} mail servers (Received headers), more than the usual ${USUAL_RECEIVED_HOPS} or fewer for a direct message.`);
		if (envelopeMismatch) hopEvidence = true;
	}

	// The recipient mismatch alone also fits Bcc and mailing lists, so it needs a hop
	// that shows the relay before it counts.
	return { decided: strong || (envelopeMismatch && hopEvidence), evidence };
}

/** A Received field whose `for <address>` clause (RFC 5321 §4.4) names a header recipient that is not ours. */
function relayedFor(headers: ClassifyForwardingInput['headers'], recipients: string[]): string | null {
	for (const h of headers) {
		if (h.key.toLowerCase() !== 'received') continue;
		const forClause = /\bfor\s+<?([^\s<>;]+@[^\s<>;]+)>?/i.exec(h.value);
		const by = /\bby\s+([^\s;()]+)/i.exec(h.value)?.[1];
		if (forClause && recipients.includes(normalizeAddress(forClause[1]!))) {
			return `A mail server${by ? ` (${by})` : ''} received it for ${normalizeAddress(forClause[1]!)}, the original recipient, before it was relayed here.`;
		}
	}
	return null;
}

// ---------------------------------------------------------------------------------------

function header(headers: ClassifyForwardingInput['headers'], name: string): string | undefined {
	return headers.find((h) => h.key.toLowerCase() === name)?.value;
}

function canonicalName(name: string): string {
	return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

function flatten(addresses: Address[] | undefined): string[] {
	return (addresses ?? []).flatMap((a) => (a.group ? a.group.map((m) => m.address) : [a.address])).map(normalizeAddress).filter((a) => a !== '');
}

function normalizeAddress(address: string): string {
	return address.trim().replace(/^<|>$/g, '').toLowerCase();
}
