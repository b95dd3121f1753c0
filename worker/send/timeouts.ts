/**
 * How long sending as a mailbox waits, stage by stage, in one options object per kind of
 * caller: the SMTP test and the probe run in front of a waiting admin (SPEC §4: an unreachable
 * or silent server is reported within 15 seconds), replies in a queue consumer that can wait
 * longer. The classifier's hints read the same values (StagedSession.explain), so a hint never
 * says a number the session did not wait.
 */
import type { SmtpStage } from '../../src/lib/schema/smtp-test';

export interface SendTimeouts {
	/** Opening the TCP (or TLS) connection. */
	connectMs: number;
	/** The server's 220 greeting (RFC 5321 §4.5.3.2.1 suggests 5 minutes; a server that needs more is not one to send through). */
	greetingMs: number;
	/** STARTTLS, the handshake and the EHLO after it (RFC 3207 §4.2). */
	tlsMs: number;
	/** The EHLO reply and its capabilities (RFC 5321 §4.1.1.1). */
	ehloMs: number;
	/** The login's final reply (RFC 4954 §4), challenges included. */
	authMs: number;
	/** Each of MAIL, RCPT, DATA (until 354) and RSET: one reply each (RFC 5321 §4.5.3.2.2-4). */
	replyMs: number;
	/** The final reply after the message data's dot (RFC 5321 §4.5.3.2.6 allows 10 minutes). */
	dataMs: number;
	/** Saying goodbye (QUIT) after the last message; the result does not wait longer than this. */
	quitMs: number;
	/** After a failed SSL/TLS connect, how long the plain-TCP probe may take to tell why. */
	tlsProbeMs: number;
	/** Opening the session (connect to AUTH) in all. */
	openBudgetMs: number;
	/** The whole send, opening included: MAIL, RCPT and DATA get what is left. Null: each message gets its limits in full. */
	sendBudgetMs: number | null;
	/** worker-mailer's own socket read limit; ours per stage are the ones that count, so it only outlasts them. */
	socketMs: number;
}

/** SPEC §14: no answer from Microsoft Graph or the Gmail API within 30 s is a `timeout` (the message may have arrived). */
export const API_SEND_TIMEOUT_MS = 30_000;

/** SPEC §4: the sending test answers within 15 seconds, whatever happens, with room to answer. */
export const TOTAL_BUDGET_MS = 14_000;

/** The SMTP sending test and the mail flow check's probe (which runs within waitUntil's 30 seconds). */
export const INTERACTIVE_TIMEOUTS: SendTimeouts = {
	connectMs: 10_000,
	greetingMs: 10_000,
	tlsMs: 10_000,
	ehloMs: 10_000,
	authMs: 10_000,
	replyMs: 10_000,
	// The message is small (a few hundred bytes); twice a reply's wait, cut to the budget.
	dataMs: 20_000,
	quitMs: 2_000,
	tlsProbeMs: 2_000,
	openBudgetMs: TOTAL_BUDGET_MS,
	sendBudgetMs: TOTAL_BUDGET_MS,
	socketMs: 11_000
};

/**
 * Replies (SPEC §10) run in a queue consumer, not in front of a waiting admin, so they allow a
 * slow provider more time than the test does (RFC 5321 §4.5.3.2 suggests minutes; a consumer
 * invocation has 15 minutes for its whole batch).
 */
export const QUEUE_TIMEOUTS: SendTimeouts = {
	connectMs: 10_000,
	greetingMs: 10_000,
	tlsMs: 10_000,
	ehloMs: 10_000,
	authMs: 10_000,
	replyMs: 30_000,
	// RFC 5321 §4.5.3.2.6 allows 10 minutes after the final dot; a batch cannot wait that long.
	dataMs: 60_000,
	quitMs: 2_000,
	tlsProbeMs: 2_000,
	openBudgetMs: 30_000,
	sendBudgetMs: null,
	socketMs: 61_000
};

/** The limit a stage waited for (MAIL and RCPT share the reply limit). */
export function stageLimitMs(timeouts: SendTimeouts, stage: SmtpStage): number {
	const limits: Record<SmtpStage, number> = {
		connect: timeouts.connectMs,
		greeting: timeouts.greetingMs,
		tls: timeouts.tlsMs,
		ehlo: timeouts.ehloMs,
		auth: timeouts.authMs,
		mail: timeouts.replyMs,
		rcpt: timeouts.replyMs,
		data: timeouts.dataMs,
		// SPEC §14: an API send waits 30 s for the provider's answer; the token request has its own limit (oauth/client.ts).
		token: timeouts.authMs,
		send: API_SEND_TIMEOUT_MS
	};
	const budget = stage === 'mail' || stage === 'rcpt' || stage === 'data' || stage === 'send' ? timeouts.sendBudgetMs : timeouts.openBudgetMs;
	return Math.min(limits[stage], budget ?? Number.POSITIVE_INFINITY);
}

/**
 * The longest one message's attempt can take (opening, MAIL, RCPT, DATA, RSET, the data): what a
 * claim's lease must outlast.
 */
export function longestAttemptMs(timeouts: SendTimeouts): number {
	return timeouts.openBudgetMs + 4 * timeouts.replyMs + timeouts.dataMs;
}
