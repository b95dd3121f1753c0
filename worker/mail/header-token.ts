/**
 * An unguessable token a message of ours carries in a header (the flow check's X-Mailgate-Probe,
 * the SMTP test's X-Mailgate-Test), so email() knows the message when it comes back. Only the
 * token's SHA-256 is stored; a header value that is not a token's shape is never looked up.
 * Pure, apart from the random bytes and WebCrypto.
 */
import { sha256Hex } from '../crypto/sha256';
import { bytesToBase64Url } from './base64';

/** 32 random bytes, base64url: unguessable, so only Mailgate's own message is ever taken for one. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * How long after its message's time a token still counts: long enough for a sending server's
 * first retries after a temporary failure (Postfix waits 300 s before the first, queue runs
 * every 300 s), short enough that a header read later (the server's Sent folder, a forwarded
 * copy, a log) soon means nothing.
 */
export const HEADER_TOKEN_LATE_GRACE_MS = 15 * 60_000;

export function newHeaderToken(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
	return bytesToBase64Url(bytes);
}

/** The hex SHA-256 under which a token is stored. */
export function hashHeaderToken(token: string): Promise<string> {
	return sha256Hex(token);
}

/** The token in header `name` (case-insensitive), or null when there is none of the right shape. */
export function readHeaderToken(headers: ReadonlyArray<{ key: string; value: string }>, name: string): string | null {
	const wanted = name.toLowerCase();
	const token = headers.find((header) => header.key.toLowerCase() === wanted)?.value.trim();
	return token && TOKEN_SHAPE.test(token) ? token : null;
}
