/**
 * The two providers' send requests and what their answers say (SPEC §14), pure but for reading a
 * response body: Microsoft Graph `sendMail` takes the MIME as base64 in a `text/plain` body, the
 * Gmail API `messages.send` as base64url in JSON `{ raw }`. Both read the recipients from the
 * MIME's headers, so a reply's Bcc recipients travel as a `Bcc` header the provider removes
 * before delivery. Every field of an answer is bounded before anyone reads it.
 */
import type { OAuthProvider } from '../../src/lib/schema/mailbox';
import { readStart } from '../http/read-start';
import { bytesToBase64, bytesToBase64Url } from '../mail/base64';
import type { ProviderAnswer } from './api-answers';
import { parseRetryAfter } from './api-answers';

/** Where a mailbox's API sends go: the provider, its API's base URL and the signed-in account. */
export interface ApiRoute {
	provider: OAuthProvider;
	/** `https://graph.microsoft.com` or `https://gmail.googleapis.com`, or their override. */
	apiUrl: string;
	account: string;
}

/** What is read of an answer's body: an error object is a few hundred bytes; a page of HTML is not one. */
export const MAX_ANSWER_BYTES = 16 * 1024;
/** The provider's message as kept on the attempt (it is the server's words, not a document). */
export const MAX_PROVIDER_MESSAGE = 500;
/** An error code or reason is one identifier (`ErrorSendAsDenied`, `userRateLimitExceeded`). */
const CODE = /^[A-Za-z0-9_.-]{1,80}$/;
/** An address a Bcc header may carry: no white space, comma, angle bracket or quote (no header can be forged from it). */
const PLAIN_ADDRESS = /^[^\s,<>"();:\\]+@[^\s,<>"();:\\]+$/;

export interface ApiRequest {
	url: string;
	/** The request line the transcript shows (no host part, no token, no body). */
	line: string;
	contentType: string;
	body: string;
}

/** The MIME that goes to the API: the stored message, with a `Bcc` header when the reply has Bcc recipients. */
export function apiMime(raw: string, bcc: readonly string[]): string {
	const addresses = bcc.filter((address) => PLAIN_ADDRESS.test(address));
	return addresses.length > 0 ? `Bcc: ${addresses.join(', ')}\r\n${raw}` : raw;
}

export function apiRequest(route: ApiRoute, mime: Uint8Array): ApiRequest {
	const base = route.apiUrl.replace(/\/+$/, '');
	if (route.provider === 'microsoft') {
		const path = `/v1.0/users/${encodeURIComponent(route.account)}/sendMail`;
		return { url: `${base}${path}`, line: `POST ${path}`, contentType: 'text/plain', body: bytesToBase64(mime) };
	}
	const path = '/gmail/v1/users/me/messages/send';
	return { url: `${base}${path}`, line: `POST ${path}`, contentType: 'application/json', body: JSON.stringify({ raw: bytesToBase64Url(mime) }) };
}

/** The status that means sent: Graph answers 202 Accepted, Gmail 200 with the message's id. */
export function isSent(provider: OAuthProvider, status: number): boolean {
	return provider === 'microsoft' ? status === 202 : status === 200;
}

/** The answer's fields: Graph `{ error: { code, message } }`, Gmail `{ error: { code, message, status, errors: [{ reason }] } }` or `{ id }`. */
export async function readAnswer(response: Response, now: number): Promise<ProviderAnswer & { providerMessageId?: string }> {
	const answer: ProviderAnswer & { providerMessageId?: string } = { status: response.status };
	const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
	if (retryAfter !== undefined) answer.retryAfterSeconds = retryAfter;
	// A body cut off mid-way is no answer to read: the status still says what happened.
	const body = parseJson(await readStart(response, MAX_ANSWER_BYTES).catch(() => ''));
	if (!isRecord(body)) return answer;
	if (typeof body.id === 'string' && CODE.test(body.id)) answer.providerMessageId = body.id;
	const error = body.error;
	if (!isRecord(error)) return answer;
	const code = typeof error.code === 'string' ? error.code : typeof error.status === 'string' ? error.status : undefined;
	if (code && CODE.test(code)) answer.code = code;
	const reason = Array.isArray(error.errors) && isRecord(error.errors[0]) ? error.errors[0].reason : undefined;
	if (typeof reason === 'string' && CODE.test(reason)) answer.reason = reason;
	if (typeof error.message === 'string' && error.message.trim()) answer.message = oneLine(error.message).slice(0, MAX_PROVIDER_MESSAGE);
	return answer;
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return null;
	}
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Control characters (line breaks included) become spaces: the words go into one transcript line. */
function oneLine(text: string): string {
	// eslint-disable-next-line no-control-regex
	return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
