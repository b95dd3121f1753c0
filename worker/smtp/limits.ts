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
