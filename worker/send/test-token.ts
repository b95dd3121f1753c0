/**
 * SPEC §16: the SMTP sending test's message carries `X-Mailgate-Test: TOKEN`, so that email()
 * logs it as `kind: "test"` (never handed to the help desk, never refused) when it comes back to
 * a service address. Only the token's SHA-256 is stored, written before the message is sent, and
 * it counts only for the test's own recipient and for a limited time: a header read later (the
 * server's Sent folder, a forwarded copy, a log) must not make mail internal.
 */
import { findSmtpTestToken, insertSmtpTestToken } from '../db/smtp-tests';
import { TOTAL_BUDGET_MS } from './timeouts';
import { HEADER_TOKEN_LATE_GRACE_MS, hashHeaderToken, newHeaderToken, readHeaderToken } from '../mail/header-token';

export const TEST_HEADER = 'X-Mailgate-Test';
/** How long after its send a test message's token still makes mail a test (as the probe's). */
export const TEST_LATE_GRACE_MS = HEADER_TOKEN_LATE_GRACE_MS;

/** A new token for a test sending to `to`, its hash stored before the message leaves. */
export async function issueTestToken(db: D1Database, test: { mailboxId: string | null; to: string; at: Date }): Promise<string> {
	const token = newHeaderToken();
	await insertSmtpTestToken(db, {
		tokenHash: await hashHeaderToken(token),
		mailboxId: test.mailboxId,
		to: test.to.trim().toLowerCase(),
		sentAt: test.at.toISOString(),
		expiresAt: new Date(test.at.getTime() + TOTAL_BUDGET_MS + TEST_LATE_GRACE_MS).toISOString()
	});
	return token;
}

/**
 * Whether a delivery to `to` is an SMTP test's message: its X-Mailgate-Test token must hash to
 * a test sent to that very address whose time has not run out at `at`. Anything else (no
 * header, a made-up, expired or other recipient's token) is ordinary mail. Costs a query only
 * when the header is there.
 */
export async function isSmtpTestMessage(
	db: D1Database,
	options: { headers: ReadonlyArray<{ key: string; value: string }>; to: string; at: Date }
): Promise<boolean> {
	const token = readHeaderToken(options.headers, TEST_HEADER);
	if (!token) return false;
	const found = await findSmtpTestToken(db, await hashHeaderToken(token), options.at.toISOString());
	return found !== null && found.to === options.to.trim().toLowerCase();
}
