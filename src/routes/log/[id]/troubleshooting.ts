/**
 * What the troubleshooting panel says about a logged delivery (SPEC §9), decided from the
 * verdict, the reason and the evidence alone. Pure: the panel renders the problems in order and
 * always ends with how to ask a provider for help.
 */
import type { MessageDetail } from '$lib/schema/message';
import { formatSize } from '$lib/components/message-format';

/** SPEC §5.3: the start of the reason a DMARC p=reject failure is refused with. */
export const DMARC_REJECTION = '550 5.7.1 Unauthenticated email from';

export type Problem =
	/**
	 * SPEC §16: DMARC failed for a From domain of one of the service addresses: likely a forgery
	 * of your own domain, said before any SPF advice.
	 */
	| 'own-domain-forgery'
	/** Refused: failed DMARC under p=reject. */
	| 'dmarc-reject'
	/** Accepted but quarantined: failed DMARC under p=quarantine. */
	| 'dmarc-quarantine'
	/** Accepted: failed DMARC under p=none, the failure recorded. */
	| 'dmarc-none'
	/** Accepted: failed DMARC, rescued by a trusted forwarder's ARC seal. */
	| 'arc-override'
	/** Refused by the mailbox's manual-forward policy. */
	| 'manual-forward'
	/** Accepted under the "Accept and flag" policy. */
	| 'manual-forward-accepted'
	/** Refused: the recipient is a sub-address (alias) of a service address. */
	| 'alias'
	/** Refused: the recipient is not a service address at all. */
	| 'not-service-address'
	/** Refused for a reason none of the above explains. */
	| 'rejected-other'
	| 'garbled'
	| 'blank'
	/** Accepted without a DMARC pass or fail (no policy published, or DNS trouble). */
	| 'unauthenticated'
	/** Accepted, DMARC passed, nothing wrong with the content. */
	| 'delivered';

/** A service address's domain and the SMTP server its mailbox sends through (from the mailboxes on this device). */
export interface OwnDomain {
	domain: string;
	smtpHost: string;
	/** The mailbox's name and address, for the advice. */
	label: string;
}

export function findProblems(message: MessageDetail, ownDomains: readonly OwnDomain[] = []): Problem[] {
	const problems: Problem[] = [];
	const reason = message.reason ?? '';
	if (ownDomainOf(message, ownDomains)) problems.push('own-domain-forgery');
	if (message.verdict === 'rejected') {
		if (message.mailboxId === null) problems.push(/alias|sub-?address/i.test(reason) ? 'alias' : 'not-service-address');
		else if (reason.startsWith(DMARC_REJECTION)) problems.push('dmarc-reject');
		else if (message.forwarding === 'manual') problems.push('manual-forward');
		else problems.push('rejected-other');
	} else {
		if (message.verdict === 'quarantined') problems.push('dmarc-quarantine');
		else if (message.auth.dmarc === 'fail') problems.push(/\bARC\b/.test(reason) ? 'arc-override' : 'dmarc-none');
		if (message.forwarding === 'manual') problems.push('manual-forward-accepted');
	}
	if (message.encoding.garbled) problems.push('garbled');
	if (message.encoding.blank) problems.push('blank');
	if (problems.length === 0) problems.push(message.auth.dmarc === 'pass' ? 'delivered' : 'unauthenticated');
	return problems;
}

/**
 * SPEC §16: the service address domain a message claims to be from while failing DMARC for it,
 * or null. Mail from your own domain that fails your own DMARC is a forgery or a server of yours
 * missing from SPF/DKIM; which one only the sending IP tells.
 */
export function ownDomainOf(message: MessageDetail, ownDomains: readonly OwnDomain[]): OwnDomain | null {
	if (message.auth.dmarc !== 'fail' || message.mailboxId === null) return null;
	const domain = (message.authDetails.dmarc.domain ?? fromDomain(message) ?? '').toLowerCase();
	return ownDomains.find((own) => own.domain === domain) ?? null;
}

/**
 * Whether `ip` is the SMTP server configured for that domain, as far as the app can know: only
 * when the server is set as an IP address. A host name's addresses are not looked up here, so
 * for one the answer is null (unknown), and the advice never says to add the IP to SPF.
 */
export function isOwnServer(ip: string | null, smtpHost: string): boolean | null {
	if (!ip) return null;
	const host = smtpHost.trim().toLowerCase().replace(/^\[|\]$/g, '');
	const literal = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
	if (!literal) return null;
	return host === ip.trim().toLowerCase();
}

/** The domain of the header From address, lower-cased. */
export function fromDomain(message: MessageDetail): string | null {
	const address = message.from.address ?? '';
	const at = address.lastIndexOf('@');
	return at > 0 ? address.slice(at + 1).toLowerCase() : null;
}

/** The domain DMARC was evaluated for: as the check recorded it, else as the reason names it. */
export function dmarcDomain(message: MessageDetail): string {
	return (
		message.authDetails.dmarc.domain ??
		/Unauthenticated email from (\S+)/.exec(message.reason ?? '')?.[1] ??
		fromDomain(message) ??
		'the sender’s domain'
	);
}

/** The sender garbled-sender counts are grouped by (worker/db/messages.ts `garbledSenders`). */
export function garbledSenderKey(message: MessageDetail): string {
	return (message.from.address ?? message.envelope.from).toLowerCase();
}

/**
 * Bytes of body below which an empty-looking message was blank when it arrived: an empty
 * multipart/alternative, with its boundaries and part headers, stays under this; a body larger
 * than this that shows nothing carried something that is no longer readable.
 */
export const BLANK_BODY_BYTES = 512;

export interface BlankAnalysis {
	/** `empty`: blank as sent; `attachments`: only attachments; `unreadable`: bytes but no readable body. */
	kind: 'empty' | 'attachments' | 'unreadable';
	attachments: number;
	bodyBytes: number;
	summary: string;
}

/** SPEC §9 "Blank": was the original blank, or did something on the way change it? */
export function analyseBlank(message: MessageDetail): BlankAnalysis {
	// The Worker's finding counts attachments for refused mail too, whose list is not kept.
	const counted = message.encodingFindings.map((finding) => /\(it has (\d+) attachments?\)/.exec(finding)?.[1]).find(Boolean);
	const attachments = counted ? Number(counted) : message.attachments.length;
	const headerBytes = new TextEncoder().encode(message.headers).byteLength;
	const bodyBytes = Math.max(0, message.size - headerBytes - 2);
	if (attachments > 0) {
		return {
			kind: 'attachments',
			attachments,
			bodyBytes,
			summary: `It arrived with ${attachments} attachment${attachments === 1 ? '' : 's'} (${formatSize(message.size)} in all) but no readable body text.`
		};
	}
	if (bodyBytes < BLANK_BODY_BYTES) {
		return {
			kind: 'empty',
			attachments,
			bodyBytes,
			summary: `The original message as received had no body text: it was ${formatSize(message.size)} in all, almost all of it headers.`
		};
	}
	return {
		kind: 'unreadable',
		attachments,
		bodyBytes,
		summary: `It arrived with ${formatSize(bodyBytes)} of body but nothing readable in it.`
	};
}

function yesNo(value: boolean): string {
	return value ? 'yes' : 'no';
}

/**
 * A note for the sender's mail admin after a DMARC failure: what arrived, what the checks found,
 * and what to fix. Plain text, for copying into an email.
 */
export function senderAdminNote(message: MessageDetail): string {
	const { spf, dkim, dmarc } = message.authDetails;
	const domain = dmarcDomain(message);
	const outcome =
		message.verdict === 'rejected'
			? `was refused because it failed DMARC, and ${domain} publishes the DMARC policy p=${dmarc.policy ?? 'reject'}.`
			: message.verdict === 'quarantined'
				? `was accepted but quarantined because it failed DMARC, and ${domain} publishes the DMARC policy p=quarantine.`
				: `failed DMARC. ${domain} publishes the DMARC policy p=${dmarc.policy ?? 'none'}, so it was accepted this time.`;
	const dkimLine =
		dkim.length === 0
			? 'DKIM: no signature'
			: dkim.map((s) => `DKIM: ${s.result} (d=${s.domain ?? '?'}${s.selector ? `, s=${s.selector}` : ''}; aligned with ${domain}: ${yesNo(s.aligned)})`).join('\n');
	return [
		'Hello,',
		'',
		`A message from ${message.from.address ?? message.envelope.from} to ${message.envelope.to} ${outcome}`,
		'',
		`Message-ID: ${message.messageId ? `<${message.messageId}>` : '(none)'}`,
		`Received: ${message.receivedAt}`,
		`Sending server: ${spf.clientIp ?? 'unknown'}${spf.helo ? ` (HELO ${spf.helo})` : ''}`,
		`SPF: ${spf.result} (domain checked: ${spf.domain ?? 'none'}; aligned with ${domain}: ${yesNo(dmarc.spfAligned)})`,
		dkimLine,
		`DMARC: ${dmarc.result} for ${domain} (policy: ${dmarc.policy ? `p=${dmarc.policy}` : 'none published'})`,
		...(message.reason ? [`Our server's answer: ${message.reason}`] : []),
		'',
		`Please make sure ${domain} publishes an SPF record that lists every server sending its mail, and that those servers sign it with DKIM for ${domain}. If the mail is forwarded on its way, the forwarder must not change its content or headers: that breaks the DKIM signature.`
	].join('\n');
}

/** Findings about accepted mail that ask nothing of the admin (SPEC §16: folded to one line). */
const QUIET: readonly Problem[] = ['delivered', 'unauthenticated', 'arc-override'];

/**
 * SPEC §16 "Customer mail first": whether the troubleshooting of this message is folded to one
 * line: accepted mail whose findings ask nothing of anyone here. Refused and quarantined mail,
 * a forgery, a DMARC failure, a manual forward, garbled or blank text stay open.
 */
export function isQuiet(message: MessageDetail, problems: readonly Problem[]): boolean {
	return message.verdict === 'accepted' && problems.every((problem) => QUIET.includes(problem));
}

/** The folded troubleshooting's one line. */
export function quietSummary(message: MessageDetail, problems: readonly Problem[]): string {
	if (problems.includes('delivered')) return 'Delivered normally: nothing needs doing.';
	if (problems.includes('arc-override')) return 'Accepted on a trusted forwarder’s word (ARC): nothing needs doing.';
	return message.auth.dmarc === 'none'
		? 'Accepted; the sender’s domain publishes no DMARC policy. Nothing needs doing here.'
		: 'Accepted; DMARC could not be checked. Nothing needs doing here.';
}
