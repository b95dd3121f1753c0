/**
 * A plain-language hint per recipient (SPEC §10): from the RFC 3463 enhanced status code, and
 * from the diagnostic's words where the code says little. Pure.
 */

/** An SMTP reply code as the notices quote it: `550 `, `550-` (RFC 5321 §4.2.1 multiline), `554:` (Yahoo), `#550` (Exchange). */
export const REPLY_CODE = /(?:^|[\s#(:])([245]\d\d)([ -]|:(?=\s))/;

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
	[/spamhaus|spamcop|barracuda|block ?list|black ?list|\b(?:dns)?rbl\b|blocked using|(?<!\bnot )listed (?:at|on|in)\b/i, HINTS.blockList],
	[/reverse dns|\bptr\b|\brdns\b/i, HINTS.reverseDns]
];
const OTHER_WORDS: ReadonlyArray<readonly [RegExp, Hint]> = [
	[/host or domain name not found|name service error|domain (?:not found|does not exist)|\bno mx\b|unroutea?ble|no route to host/i, HINTS.routing],
	[/mailbox (?:is )?full|over quota|quota exceeded|insufficient (?:system )?storage/i, HINTS.full],
	[/too (?:large|big)|size exceeds|exceeds (?:the )?(?:maximum|size)/i, HINTS.tooLarge],
	[
		/user unknown|unknown user|no such (?:user|mailbox|recipient)|does ?n(?:o|')t exist|doesn'?t have an? \S+ account|recipient ?not ?found|recipnotfound|not a valid recipient|invalid (?:recipient|mailbox)|mailbox unavailable|no mailbox|unknown recipient|recipient name is not recognized|not listed in (?:the )?(?:Domino Directory|public Name & Address Book)/i,
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
	// X.5.0 is "other or undefined protocol status" (RFC 3463 §3.6): qmail writes it for any
	// refusal the remote gave without a code ("550 Unknown user … (#5.5.0)"), so words come first.
	const vague = subjectDetail === '5.0';
	let hint: Hint | undefined = subjectDetail && !vague ? STATUS_HINTS.find(([pattern]) => pattern.test(subjectDetail))?.[1] : undefined;
	const words = diagnostic ?? '';
	// A generic 7.x refusal: the diagnostic often says which check failed.
	if (!hint && subjectDetail?.startsWith('7.')) hint = POLICY_WORDS.find(([pattern]) => pattern.test(words))?.[1] ?? HINTS.policy;
	hint ??= [...POLICY_WORDS, ...OTHER_WORDS].find(([pattern]) => pattern.test(words))?.[1] ?? (vague ? HINTS.protocol : undefined);
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
export function enhancedCode(text: string | null): string | null {
	if (!text) return null;
	return /(?:^|[\s#(\[;:,-])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s),;:\]])/.exec(text)?.[1] ?? null;
}
