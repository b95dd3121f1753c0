/**
 * Turns what an SMTP sending test ran into into a category and a hint (SPEC §4): by the stage
 * reached first, then by the reply code, the enhanced status code and the server's words.
 * Pure: plain values in, plain values out.
 */
import type { Encryption } from '../../src/lib/schema/mailbox';
import type { SmtpCategory, SmtpStage } from '../../src/lib/schema/smtp-test';
import { limitOfReply } from './provider-limit';

export interface SmtpReply {
	code: number;
	/** RFC 3463 enhanced status code, e.g. "5.7.8". */
	enhancedCode?: string;
	/** The reply text without codes, lines joined by a space. */
	text: string;
	/** The reply as the server sent it. */
	raw: string;
}

/** What went wrong, as seen from the client. */
export type Failure =
	| { kind: 'reply'; reply: SmtpReply }
	| { kind: 'timeout' }
	/** The socket failed (refused, reset, TLS error surfaced by the runtime). */
	| { kind: 'socket'; message: string }
	/** The server's capabilities cannot work with these settings. */
	| { kind: 'no-starttls' }
	| { kind: 'starttls-required' }
	| { kind: 'no-auth-method'; offered: string[] };

/** After a failed SSL/TLS connect: what a plain TCP connection to the same port found. */
export type Probe = 'closed' | 'plain-greeting' | 'silent';

export interface Situation {
	stage: SmtpStage;
	failure: Failure;
	encryption: Encryption;
	port: number;
	host: string;
	/** How the session logged in (SPEC §12); a password when not said. */
	auth?: 'password' | 'oauth2';
	probe?: Probe;
	timeoutSeconds: number;
}

export interface Verdict {
	category: SmtpCategory;
	hint: string;
}

/** Parses a (possibly multi-line) SMTP reply: RFC 5321 §4.2, RFC 3463 enhanced codes. */
export function parseReply(raw: string): SmtpReply | null {
	const lines = raw.split(/\r?\n/).filter((line) => line.length > 0);
	const last = lines.at(-1);
	const match = last && /^(\d{3})[ -]?/.exec(last);
	if (!match) return null;
	const code = Number(match[1]);
	let enhancedCode: string | undefined;
	const texts = lines.map((line) => {
		let rest = line.replace(/^\d{3}[ -]?/, '');
		const enhanced = /^([245]\.\d{1,3}\.\d{1,3})\s*/.exec(rest);
		if (enhanced) {
			enhancedCode ??= enhanced[1];
			rest = rest.slice(enhanced[0].length);
		}
		return rest.trim();
	});
	return { code, enhancedCode, text: texts.filter(Boolean).join(' '), raw: raw.trimEnd() };
}

const PAIRING = 'Port 465 uses SSL/TLS from the first byte; port 587 uses STARTTLS.';

const TLS_WORDS = /\b(starttls|tls|ssl|encrypt(ed|ion)?|secure connection)\b/i;
/** Big providers' words for "basic authentication is off: use an app password or OAuth". */
const MODERN_AUTH_WORDS =
	/oauth|basic auth(entication)? is disabled|smtpclientauthentication is disabled|application-specific password|app password|web login required|please log in (via|with) your web browser/i;
const CREDENTIAL_WORDS = /credential|password|username|authenticat|login|log in|535/i;
const RELAY_WORDS = /relay/i;
/**
 * SPEC §4: the Account may not send as the service address. Microsoft 365 answers
 * `554 5.2.252 SendAsDenied` (at DATA) or `550 5.7.60` (client does not have permission to
 * send as this sender); Postfix and Fastmail `553 … not owned by user`; many `Sender address
 * rejected`.
 */
const SEND_AS_WORDS = /sendasdenied|not allowed to send as|not owned by( auth)? user|sender address rejected|send as this sender|not authorized to send (on behalf|as)/i;
const SEND_AS_CODES = new Set(['5.2.252', '5.7.60']);
/**
 * Microsoft 365: SMTP AUTH is off for the mailbox or the tenant (`5.7.139 … SmtpClientAuthentication
 * is disabled`). This is not about passwords: OAuth logins need SMTP AUTH on as well.
 */
const SMTP_AUTH_OFF_WORDS = /smtpclientauthentication is disabled|smtp_auth_disabled/i;
/** Microsoft 365's refusals of a password login (SPEC §12): 5.7.30, and 5.7.139 for basic authentication. */
const MICROSOFT_BASIC_AUTH_CODES = new Set(['5.7.30', '5.7.139']);
/** Gmail: `534 5.7.9 Application-specific password required`. */
const GOOGLE_PASSWORD_CODES = new Set(['5.7.9']);

const UNKNOWN_USER_WORDS = /user unknown|does not exist|no such user|unknown user|mailbox unavailable|recipient (address )?rejected|invalid recipient/i;

/**
 * Issue 19: what the runtime said about a socket that failed, in our words. workerd reports a
 * refused port as "proxy request failed, cannot connect to the specified address", a dropped
 * connection as "Network connection lost", and some TLS failures as "internal error; reference =
 * …": none of it is a server's reply, so it is never shown as one.
 */
function describeSocketFailure(message: string): string {
	if (/refused|cannot connect to the specified address|econnrefused/i.test(message)) return 'connection refused';
	if (/getaddrinfo|enotfound|dns|name (not|could not be) resolved|no such host|lookup/i.test(message)) return 'the server name could not be found (DNS)';
	if (/lost|reset|closed|disconnect|econnreset|epipe|broken pipe|end of (stream|file)|eof/i.test(message)) return 'the connection was closed';
	if (/unreachable|no route/i.test(message)) return 'the network is unreachable';
	return 'the connection failed';
}

/** "host:port" as an admin types it (an IPv6 literal keeps its brackets). */
function hostPort({ host, port }: Pick<Situation, 'host' | 'port'>): string {
	return /:/.test(host) && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

const STAGE_WORDS: Record<SmtpStage, string> = {
	connect: 'while connecting',
	tls: 'while setting up encryption',
	greeting: 'before greeting',
	ehlo: 'after EHLO',
	auth: 'while logging in',
	mail: 'after MAIL FROM',
	rcpt: 'after RCPT TO',
	data: 'while the message was sent',
	token: 'while getting an access token',
	send: 'while the provider took the message'
};

export function classify(situation: Situation): Verdict {
	const { stage, failure } = situation;
	if (failure.kind === 'timeout') return classifyTimeout(situation);
	// Issue 19: the server hung up after the session was under way, without a reply to explain it.
	if (failure.kind === 'socket' && !situation.probe && stage !== 'connect' && stage !== 'greeting' && stage !== 'tls') {
		const when = STAGE_WORDS[stage];
		return {
			category: 'connection',
			hint:
				stage === 'data'
					? `The server at ${hostPort(situation)} closed the connection without a reply ${when}, so the message may or may not have been delivered. Try again; if it keeps happening, the server may limit message size or connections.`
					: `The server at ${hostPort(situation)} closed the connection without a reply ${when} (${describeSocketFailure(failure.message)}). Try again; if it keeps happening, check the server address, port and encryption.`
		};
	}
	if (failure.kind === 'no-starttls') {
		return {
			category: 'tls',
			hint: `The server does not offer STARTTLS on port ${situation.port}. ${PAIRING} Check the port, or choose SSL/TLS if the server expects it.`
		};
	}
	if (failure.kind === 'starttls-required') {
		return {
			category: 'tls',
			hint: 'The server only allows logging in over an encrypted connection. Set Encryption to STARTTLS (usually port 587) or SSL/TLS (usually 465).'
		};
	}
	if (failure.kind === 'no-auth-method') {
		const offered = failure.offered.join(', ') || 'none';
		if (situation.auth === 'oauth2') {
			return {
				category: 'auth',
				hint: `The server does not offer OAuth login (XOAUTH2; it offers ${offered}). Check the server address: Microsoft 365 is smtp.office365.com (587, STARTTLS), Google smtp.gmail.com (465, SSL/TLS). For another provider, use Password as the Sign-in method.`
			};
		}
		return {
			category: 'auth',
			hint: failure.offered.includes('xoauth2')
				? `The server accepts only OAuth logins (it offers ${offered}), not a password. If it is Microsoft 365 or Google, choose that Sign-in method and press Sign in with Microsoft / Google.`
				: `The server offers no login method Mailgate supports (it offers ${offered}; Mailgate uses PLAIN, LOGIN or XOAUTH2). Check with your provider whether SMTP login with a password is enabled.`
		};
	}
	if (stage === 'connect' || situation.probe || (stage === 'greeting' && failure.kind === 'socket')) {
		return classifyConnect(situation);
	}
	if (stage === 'tls') return classifyTls(situation);

	const reply = failure.kind === 'reply' ? failure.reply : null;
	const words = failure.kind === 'reply' ? `${failure.reply.enhancedCode ?? ''} ${failure.reply.text}` : failure.message;
	if (reply?.enhancedCode === '5.7.30' || (reply && /basic authentication is not supported/i.test(words))) {
		return { category: 'auth', hint: MICROSOFT_PASSWORD_OFF };
	}
	// SPEC §15: a provider's limit answer, whatever its first digit (smtp/provider-limit.ts).
	const limit = reply && limitOfReply(reply);
	if (limit) return { category: 'rejected', hint: limit.hint };
	if (reply?.code === 421) {
		return {
			category: 'rejected',
			hint: 'The server is busy or is limiting connections right now (421) and closed the session. Try again in a few minutes; if it persists, ask your provider whether they limit connections from Cloudflare.'
		};
	}
	if (stage === 'greeting' || stage === 'ehlo') {
		if (TLS_WORDS.test(words)) return tlsSettings(situation);
		return {
			category: 'connection',
			hint: 'The server refused the session before login. Check the server address and port, and that this server accepts mail submission from outside your network.'
		};
	}
	if (stage === 'auth') return classifyAuth(situation, words, reply);

	// mail, rcpt, data: the server refused the sender, the recipient or the message.
	if (reply && (SEND_AS_CODES.has(reply.enhancedCode ?? '') || SEND_AS_WORDS.test(words) || (reply.code === 553 && stage === 'mail'))) {
		return {
			category: 'rejected',
			hint: 'The server refused to send as the service address: the Account may not send as this address. Give the account "Send As" permission for the address (in Microsoft 365: the mailbox\'s Send As delegation), or log in with the address\'s own account.'
		};
	}
	if (/must issue a starttls|encryption required|tls required|ssl required/i.test(words)) return tlsSettings(situation);
	if (reply?.code === 530 || reply?.code === 535 || /authentication required|not authenticated/i.test(words)) {
		return {
			category: 'auth',
			hint:
				situation.auth === 'oauth2'
					? 'The server wants a login before it accepts mail and did not take the sign-in for sending. Check that the Account may send email with SMTP, then sign in again from the mailbox page.'
					: 'The server wants a login before it accepts mail. Check the account and password, and whether this server requires logging in on this port.'
		};
	}
	if (stage === 'mail') {
		return {
			category: 'rejected',
			hint: 'The server refused the sender address. The account may not be allowed to send as the service address: check the account, or allow it to send as this address at your provider.'
		};
	}
	if (stage === 'rcpt') {
		if (RELAY_WORDS.test(words)) {
			return {
				category: 'rejected',
				hint: 'The server refused to relay the message to the recipient. Log in with an account that may send through this server, or ask your provider to allow relaying for it.'
			};
		}
		if (UNKNOWN_USER_WORDS.test(words) || reply?.enhancedCode === '5.1.1') {
			return { category: 'rejected', hint: 'The server says the recipient does not exist. Check the address for typos.' };
		}
		return { category: 'rejected', hint: 'The server refused the recipient. Check the address and the server\'s reason.' };
	}
	return {
		category: 'rejected',
		hint: 'The server refused the message itself. Its reason below says why (size, content or sending limits).'
	};
}

function classifyTimeout({ stage, encryption, port, timeoutSeconds }: Situation): Verdict {
	if (stage === 'greeting' && encryption !== 'tls' && port === 465) {
		return {
			category: 'tls',
			hint: `Port 465 waits for SSL/TLS before it says anything. Set Encryption to SSL/TLS, or use port 587 with STARTTLS.`
		};
	}
	if (stage === 'connect') {
		return {
			category: 'timeout',
			hint: `No answer within ${timeoutSeconds} seconds while connecting. Check the server address and port; a firewall may be dropping connections from outside.`
		};
	}
	return {
		category: 'timeout',
		hint: `The server accepted the connection but did not answer within ${timeoutSeconds} seconds${stage === 'greeting' ? ' (no greeting)' : ''}. Check the server address and port; if they are right, the server may be overloaded.`
	};
}

function classifyConnect(situation: Situation): Verdict {
	const { encryption, probe, port } = situation;
	if (encryption === 'tls' && probe === 'plain-greeting') {
		return {
			category: 'tls',
			hint: `The server on port ${port} answered without SSL/TLS, so it does not expect SSL/TLS there. ${PAIRING} Set Encryption to STARTTLS, or use port 465 with SSL/TLS.`
		};
	}
	if (encryption === 'tls' && probe === 'silent') {
		return {
			category: 'tls',
			hint: `The port is open but the SSL/TLS handshake failed. Check that the server's certificate is valid (not expired or self-signed, and issued for ${situation.host}). ${PAIRING}`
		};
	}
	const why = situation.failure.kind === 'socket' ? describeSocketFailure(situation.failure.message) : 'no answer';
	return {
		category: 'connection',
		hint: `Could not connect to ${hostPort(situation)}: ${why}. Check the server address and port, and that the server accepts connections from the internet.`
	};
}

function classifyTls(situation: Situation): Verdict {
	const { failure } = situation;
	if (failure.kind === 'reply') {
		return {
			category: 'tls',
			hint: `The server refused to start TLS (${failure.reply.code}). It may not support STARTTLS on this port. ${PAIRING}`
		};
	}
	return {
		category: 'tls',
		hint: `The secure connection could not be set up. Check that the server's certificate is valid (not expired or self-signed, and issued for ${situation.host}), and that the encryption matches the port. ${PAIRING}`
	};
}

function tlsSettings(situation: Situation): Verdict {
	return {
		category: 'tls',
		hint:
			situation.encryption === 'none'
				? 'The server requires an encrypted connection. Set Encryption to STARTTLS (usually port 587) or SSL/TLS (usually 465).'
				: `The server did not accept the security settings. ${PAIRING}`
	};
}

/** A reply that says the provider is limiting the mailbox (temporary whatever its code, SPEC §15). */
export function isRateLimit(reply: SmtpReply): boolean {
	return limitOfReply(reply) !== null;
}

/**
 * A temporary failure is worth trying again by itself (SPEC §10, RFC 5321 §4.2.1: 4yz is
 * transient): a 4xx reply (421 included), a timeout before the message data went out, a refused
 * or dropped connection, a provider's rate limit. A 5xx reply, settings that cannot work and a
 * message that may already have arrived are not.
 */
export function isTemporary(failure: Failure, options: { dataSent: boolean }): boolean {
	if (options.dataSent) return false;
	switch (failure.kind) {
		case 'timeout':
		case 'socket':
			return true;
		case 'reply':
			return isTemporaryReply(failure.reply);
		default:
			return false;
	}
}

export function isTemporaryReply(reply: SmtpReply): boolean {
	return (reply.code >= 400 && reply.code < 500) || isRateLimit(reply);
}

const MICROSOFT_PASSWORD_OFF =
	'Microsoft 365 no longer accepts a password (basic authentication) for SMTP on this mailbox. Choose Microsoft 365 as the Sign-in method and press Sign in with Microsoft (OAuth); password logins end for every tenant in December 2026.';

function classifyAuth(situation: Situation, words: string, reply: SmtpReply | null): Verdict {
	if (reply && TLS_WORDS.test(words) && !MODERN_AUTH_WORDS.test(words)) return tlsSettings(situation);
	if (SMTP_AUTH_OFF_WORDS.test(words)) {
		return {
			category: 'auth',
			hint:
				'Microsoft 365 has SMTP AUTH turned off for this mailbox (or the whole tenant). A Microsoft 365 admin must enable authenticated SMTP for the mailbox (Exchange admin center: the mailbox, Email apps, Authenticated SMTP; or Set-CASMailbox -SmtpClientAuthenticationDisabled $false). This is needed with Sign in with Microsoft too.'
		};
	}
	if (situation.auth === 'oauth2') {
		if (reply && reply.code >= 400 && reply.code < 500) {
			return { category: 'auth', hint: 'The server could not check the sign-in right now (a temporary error). Try again in a few minutes.' };
		}
		// Issue 19: the button beside the sign-in reads "Sign in with … again" or "Reconnect"; name neither.
		return {
			category: 'auth',
			hint: 'The server refused the OAuth sign-in. Check that the Account is the address shown as signed in on the mailbox page, and that this mailbox may send email with SMTP; if it keeps failing, Reconnect: sign in again from the mailbox page.'
		};
	}
	if (MICROSOFT_BASIC_AUTH_CODES.has(reply?.enhancedCode ?? '') || /basic auth(entication)? is disabled/i.test(words)) {
		return { category: 'auth', hint: MICROSOFT_PASSWORD_OFF };
	}
	if (GOOGLE_PASSWORD_CODES.has(reply?.enhancedCode ?? '')) {
		return {
			category: 'auth',
			hint: 'Google does not accept the account\'s own password for SMTP. Choose Google as the Sign-in method and press Sign in with Google (OAuth), or create an app password and use it as the Password.'
		};
	}
	if (MODERN_AUTH_WORDS.test(words)) {
		return {
			category: 'auth',
			hint: 'The provider does not accept a plain password for SMTP on this account. For Microsoft 365 or Google, choose that Sign-in method and press Sign in with Microsoft / Google; elsewhere create an app password (Yahoo, iCloud) and use it as the Password.'
		};
	}
	if (reply && reply.code >= 400 && reply.code < 500) {
		return {
			category: 'auth',
			hint: 'The server could not check the login right now (a temporary error). Try again in a few minutes; if it persists, check the account and password.'
		};
	}
	if (reply && (CREDENTIAL_WORDS.test(words) || reply.code === 535 || reply.code === 534 || reply.enhancedCode === '5.7.8')) {
		return {
			category: 'auth',
			hint: 'The server refused the account or password. Check the Account (often the full email address) and the Password; some providers require an app password.'
		};
	}
	return {
		category: 'auth',
		hint: 'Logging in failed. Check the Account and Password, and whether this server allows SMTP login for the account.'
	};
}
