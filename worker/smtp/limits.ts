/**
 * Time limits of the SMTP sending test. SPEC §4: an unreachable or silent server is reported
 * within 15 seconds, so every wait below fits inside TOTAL_BUDGET_MS.
 */

/** Opening the TCP (or TLS) connection. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Waiting for any one server reply (greeting, EHLO, AUTH, MAIL, RCPT, DATA). */
export const REPLY_TIMEOUT_MS = 10_000;
/** The whole test, whatever happens: under SPEC §4's 15 seconds, with room to answer. */
export const TOTAL_BUDGET_MS = 14_000;
/** After a failed TLS connect, how long the plain-TCP probe may take to tell why. */
export const PROBE_TIMEOUT_MS = 2_000;
/** Saying goodbye (QUIT) after success; the result does not wait longer than this. */
export const QUIT_TIMEOUT_MS = 2_000;

/**
 * Replies (SPEC §10) run in a queue consumer, not in front of a waiting admin, so they allow a
 * slow provider more time than the test does (RFC 5321 §4.5.3.2 suggests minutes; a consumer
 * invocation has 15 minutes for its whole batch).
 */
export const OUTBOUND_LOGIN_BUDGET_MS = 30_000;
export const OUTBOUND_REPLY_TIMEOUT_MS = 30_000;
/** RFC 5321 §4.5.3.2.6 allows 10 minutes after the final dot; a batch cannot wait that long. */
export const OUTBOUND_DATA_TIMEOUT_MS = 60_000;
