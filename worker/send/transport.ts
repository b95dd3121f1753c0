/**
 * What sending as a mailbox returns, and what a way of sending (a transport) must do: SMTP
 * (smtp-transport.ts), or Microsoft Graph and the Gmail API (api-transport.ts, SPEC §14). The
 * three callers (the SMTP test, replies, the probe) only ever see a `SendOutcome`.
 */
import type { RefusedRecipient } from '../../src/lib/schema/outbound';
import type { ProviderLimit } from '../../src/lib/schema/send-outcome';
import type { SmtpCategory, SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import type { SmtpSettings } from '../smtp/settings';
import type { LoginFailure } from './login';

/** A failed attempt, explained (SPEC §4): where it stopped, what kind of problem, what to do. */
export interface SendAttempt {
	stage: SmtpStage;
	category: SmtpCategory;
	hint: string;
	/** Worth trying again later by itself (SPEC §10; smtp/classify.ts isTemporary). */
	temporary: boolean;
	/** The server's reply code and RFC 3463 enhanced code, when a reply said why. */
	code?: number;
	enhancedCode?: string;
	/** What the server said, verbatim; never a description of a local failure (issue 19). */
	serverMessage?: string;
	/** The dialogue of this attempt, every secret redacted. */
	transcript: string[];
	/** The message data went out and no final answer came: it may have been delivered (SPEC §10). */
	mayHaveArrived: boolean;
	/** Recipients the server refused while the transaction went on. */
	refused: RefusedRecipient[];
	/** Why no login could be made (send/credentials.ts), when that is where it stopped. */
	credential?: LoginFailure['reason'];
	/** The provider asked not to be tried again for this many seconds (Retry-After, SPEC §14). */
	retryAfterSeconds?: number;
	/** SPEC §15: a provider's limit answer (smtp/provider-limit.ts, send/api-answers.ts): the mailbox pauses. */
	limit?: ProviderLimit;
}

export type SendOutcome =
	| {
			ok: true;
			/** SPEC §14: which way it left (absent: SMTP). */
			via?: 'smtp' | 'api';
			/** The server's final answer to the message data. */
			code: number;
			enhancedCode?: string;
			serverMessage: string;
			/** The provider's id of the sent message (the Gmail API's `id`, SPEC §14). */
			providerMessageId?: string;
			accepted: string[];
			refused: RefusedRecipient[];
			transcript: string[];
	  }
	| { ok: false; attempt: SendAttempt };

/** One message to send, exactly as composed. */
export interface OutgoingMessage {
	/** The envelope sender (RFC 5321 reverse-path). */
	from: string;
	recipients: string[];
	/** The message as composed (CRLF line ends). */
	raw: string;
	/**
	 * Recipients that are in `recipients` but in no header (a reply's Bcc). SMTP needs nothing
	 * more; an API that reads the recipients from the MIME gets them as a `Bcc` header (SPEC §14).
	 */
	bcc?: readonly string[];
	/** Called right before the message data goes out, so a crash after it is known (SPEC §10). */
	beforeData?: () => Promise<void>;
	/**
	 * The message the caller will send next on this session, if it is ready (null: none, or not
	 * yet allowed to leave). A pipelining SMTP session asks while this message is under way and
	 * writes the next one's MAIL, RCPT and DATA behind this data (RFC 2920 §3.1); that message must
	 * then be the next one sent (the same object), else the session is dropped, not reused.
	 */
	following?: () => Promise<OutgoingMessage | null>;
}

/** A session a transport opened: several messages may go over it, one after another. */
export interface TransportSession {
	readonly isOpen: boolean;
	/** The whole dialogue so far (opening included), every secret redacted. */
	readonly transcript: readonly string[];
	/** Each stage's time so far (the SMTP test shows them). */
	readonly steps: readonly SmtpTestStep[];
	/**
	 * Readies the session for another message (SMTP: RSET, only after a transaction that did not
	 * end cleanly; asked before every message, it does nothing twice); a session that cannot is
	 * closed, and so is one whose next transaction was begun for another message than `next`.
	 */
	reset(next?: OutgoingMessage): Promise<void>;
	send(message: OutgoingMessage): Promise<SendOutcome>;
	/** Says goodbye (within the transport's quit limit); closing a closed session does nothing. */
	close(): Promise<void>;
}

export interface Opening {
	session: TransportSession;
	/** Null when the session is open and logged in. */
	failure: {
		attempt: SendAttempt;
		/** The server refused the login itself: the sign-in may have been withdrawn (credentials.ts afterAuthRefused). */
		authRefused: boolean;
	} | null;
}

export interface Transport {
	/** Opens a session and logs in as `signIn` says. Never throws for anything the server or network does. */
	open(signIn: SmtpSettings): Promise<Opening>;
}

/**
 * How long a failed attempt asks to wait before the next (SPEC §14, §15): the provider's
 * Retry-After, else a limit answer's own wait (a minute, or an hour for a daily quota); undefined
 * when neither says. The consumer's `nextAttemptAt` and the mailbox's pause both read it.
 */
export function waitAskedSeconds(attempt: Pick<SendAttempt, 'retryAfterSeconds' | 'limit'>): number | undefined {
	return attempt.retryAfterSeconds ?? attempt.limit?.retryAfterSeconds;
}

/** An attempt stopped before anything was sent: settings that cannot work (SPEC §4 `config`). */
export function configAttempt(hint: string, extra: Partial<SendAttempt> = {}): SendAttempt {
	return { stage: 'connect', category: 'config', hint, temporary: false, transcript: [], mayHaveArrived: false, refused: [], ...extra };
}
