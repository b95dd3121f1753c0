/**
 * SPEC §16: the SMTP sending test's message carries `X-Mailgate-Test: TOKEN`, so that email()
 * logs it as `kind: "test"` (never handed to the help desk, never refused) when it comes back to
 * a service address. Only the token's SHA-256 is stored, written before the message is sent, and
 * it counts only for the test's own recipient and for a limited time: a header read later (the
 * server's Sent folder, a forwarded copy, a log) must not make mail internal.
 */
import { findSmtpTestToken, insertSmtpTestToken } from '../db/smtp-tests';
import { TOTAL_BUDGET_MS } from './limits';

export const TEST_HEADER = 'X-Mailgate-Test';
/**
 * How long after its send a test message's token still makes mail a test. As for the flow
 * check's probe (flow/round-trip.ts PROBE_LATE_GRACE_MS): long enough for a sending server's
 * first retries after a temporary failure (Postfix waits 300 s before the first, queue runs
 * every 300 s), short enough that a leaked header soon means nothing.
 */
export const TEST_LATE_GRACE_MS = 15 * 60_000;
/** 32 random bytes, base64url: unguessable, so only Mailgate's own test message is taken for one. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new token for a test sending to `to`, its hash stored before the message leaves. */
export async function issueTestToken(db: D1Database, test: { mailboxId: string | null; to: string; at: Date }): Promise<string> {
	const token = toBase64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
	await insertSmtpTestToken(db, {
		tokenHash: await sha256Hex(token),
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
	const token = options.headers.find((header) => header.key.toLowerCase() === TEST_HEADER.toLowerCase())?.value.trim();
	if (!token || !TOKEN_SHAPE.test(token)) return false;
	const found = await findSmtpTestToken(db, await sha256Hex(token), options.at.toISOString());
	return found !== null && found.to === options.to.trim().toLowerCase();
}

async function sha256Hex(token: string): Promise<string> {
	const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
	return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function toBase64Url(bytes: Uint8Array): string {
	return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
