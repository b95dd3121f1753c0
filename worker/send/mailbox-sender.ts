/**
 * One way to send as a mailbox (STYLE "send/"): the SMTP test, replies and the mail flow check's
 * probe all open a sender here, send one message or several over one session, and close it.
 * The sender logs in once (a password or an OAuth access token, credentials.ts), opens a session
 * through its transport (SMTP, or the provider's API for a mailbox that sends through it), asks the provider at once when the server refused an OAuth
 * token (a withdrawn access says Reconnect, SPEC §12), starts a new session after a failure or
 * after `messagesPerSession`, and answers every send with a `SendOutcome`: never an exception.
 */
import type { SmtpTestStep } from '../../src/lib/schema/smtp-test';
import { apiTransport } from './api-transport';
import type { SmtpLogin } from './credentials';
import type { LoginFailure } from './login';
import { smtpTransport } from './smtp-transport';
import type { SendTimeouts } from './timeouts';
import type { OutgoingMessage, SendAttempt, SendOutcome, Transport, TransportSession } from './transport';

export interface SenderOptions {
	/** The sign-in to send with (credentials.ts): the mailbox's own, or a password typed into the test's form. */
	login: () => Promise<SmtpLogin>;
	timeouts: SendTimeouts;
	/** ALLOW_PRIVATE_SMTP_HOSTS (local use only). */
	allowPrivateHosts: boolean;
	/** The name an SMTP session greets with (smtp/ehlo-name.ts: SMTP_EHLO_NAME or the service address's domain). */
	ehloName?: string;
	/**
	 * `OUTBOUND_MESSAGES_PER_SESSION`: some providers close a session after a number of messages
	 * (or an admin wants one session per message, as bench/outbound compares). Null: no limit.
	 */
	messagesPerSession?: number | null;
	/** Replaces SMTP over cloudflare:sockets (tests). */
	transport?: Transport;
}

export type Readiness = { ok: true } | { ok: false; attempt: SendAttempt };

export interface MailboxSender {
	/**
	 * Logs in and opens a session for the next message, unless one is open (then readies it: RSET
	 * if its last transaction did not end cleanly). A failure here would fail every message the same way.
	 */
	ready(): Promise<Readiness>;
	/** Sends one message (calling `ready` first). */
	send(message: OutgoingMessage): Promise<SendOutcome>;
	/** Says goodbye to the open session, if any. */
	close(): Promise<void>;
	/** The latest session's dialogue, opening included, every secret redacted. */
	readonly transcript: readonly string[];
	/** The latest session's stages and their times. */
	readonly steps: readonly SmtpTestStep[];
}

export function openSender(options: SenderOptions): MailboxSender {
	const smtp = () => options.transport ?? smtpTransport({ timeouts: options.timeouts, allowPrivateHosts: options.allowPrivateHosts, ehloName: options.ehloName });
	const perSession = options.messagesPerSession ?? Number.POSITIVE_INFINITY;
	let login: SmtpLogin | null = null;
	let session: TransportSession | null = null;
	let sentOnSession = 0;

	async function ready(next?: OutgoingMessage): Promise<Readiness> {
		login ??= await options.login();
		if (!login.ok) return { ok: false, attempt: loginAttempt(login.failure) };
		if (session?.isOpen && sentOnSession >= perSession) await session.close();
		// The session knows whether its last transaction ended (so ready() twice says RSET once, if at all).
		if (session?.isOpen) await session.reset(next);
		if (session?.isOpen) return { ok: true };
		// SPEC §14: a mailbox that sends through Microsoft Graph or the Gmail API has its login's route.
		const transport = login.api ? apiTransport(login.api, { timeouts: options.timeouts }) : smtp();
		const opening = await transport.open(login.settings);
		session = opening.session;
		sentOnSession = 0;
		if (!opening.failure) return { ok: true };
		const { attempt, authRefused } = opening.failure;
		// A refused OAuth token may mean the access was withdrawn: then that is what to say (reconnect).
		const withdrawn = authRefused ? await login.afterAuthRefused() : null;
		if (!withdrawn) return { ok: false, attempt };
		return { ok: false, attempt: { ...attempt, category: withdrawn.category, hint: withdrawn.hint, temporary: withdrawn.temporary } };
	}

	return {
		ready,
		async send(message) {
			const readiness = await ready(message);
			if (!readiness.ok) return readiness;
			sentOnSession++;
			// The session's last message gets none to follow it: the next goes on a new session.
			return session!.send(sentOnSession < perSession ? message : { ...message, following: undefined });
		},
		async close() {
			await session?.close();
		},
		get transcript() {
			return session?.transcript ?? [];
		},
		get steps() {
			return session?.steps ?? [];
		}
	};
}

/** No login could be made: nothing was sent, and the reason goes with it. */
function loginAttempt(failure: LoginFailure): SendAttempt {
	const { reason, stage, category, hint, temporary } = failure;
	return { stage, category, hint, temporary, transcript: [], mayHaveArrived: false, refused: [], credential: reason };
}
