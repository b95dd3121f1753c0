/** JSON responses and request bodies for /api, in the SPEC §7 error shape. */
import type { z } from 'zod';
import { fieldErrors, type FieldErrors } from '../../src/lib/schema/api-error';
import type { LostSecret } from '../crypto/sealer';

/**
 * Largest request body accepted. A mailbox is well under 4 KiB even with a 500-character
 * description and a 1,024-character password; anything near this limit is not a form.
 */
export const MAX_BODY_BYTES = 64 * 1024;

const API_HEADERS = {
	'content-type': 'application/json; charset=utf-8',
	// Responses carry configuration; never let a browser or proxy cache them.
	'cache-control': 'no-store',
	'x-content-type-options': 'nosniff',
	'content-security-policy': "default-src 'none'; frame-ancestors 'none'"
};

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
	return new Response(JSON.stringify(body), { status, headers: { ...API_HEADERS, ...headers } });
}

export function noContent(): Response {
	return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
}

/** An answer other than success. Thrown inside handlers, turned into JSON by the router. */
export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly extra: { fields?: FieldErrors; current?: unknown; headers?: Record<string, string> } = {}
	) {
		super(message);
		this.name = 'HttpError';
	}

	toResponse(): Response {
		const { fields, current, headers } = this.extra;
		return json({ error: { code: this.code, message: this.message, fields, current } }, this.status, headers);
	}
}

/**
 * An API module's one table from a domain's refusals (a union tagged by `reason`) to their HTTP
 * answers: every reason has its entry, or the table does not type-check.
 */
export type RefusalAnswers<U extends { reason: string }> = { [R in U['reason']]: (refusal: Extract<U, { reason: R }>) => HttpError };

/** The answer a module's table gives for one refusal. */
export function answerFor<U extends { reason: string }>(table: RefusalAnswers<U>, refusal: U): HttpError {
	return (table[refusal.reason as U['reason']] as (refusal: U) => HttpError)(refusal);
}

/**
 * A stored secret that no longer opens (worker/crypto/sealer.ts), wherever the API needs one that
 * is not a step's result: 409 with what to enter again, never a 500. (An SMTP test's login that
 * cannot open its password is a result like any failed step, `config` with the same hint.)
 */
export const secretLost = (lost: LostSecret) => new HttpError(409, 'secret_unreadable', lost.hint);

export const validationFailed = (fields: FieldErrors) =>
	new HttpError(422, 'validation_failed', 'Some fields need attention.', { fields });

/**
 * Reads a JSON body within MAX_BODY_BYTES: refused on its declared length before a byte is read,
 * and counted as it streams in when it declares none (chunked). Its Content-Type was checked by the router, which requires
 * application/json on every request that can carry a body (router.ts refuseForgeable).
 */
async function readJson(request: Request, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
	const declared = Number(request.headers.get('content-length') ?? '0');
	if (declared > maxBytes) throw tooLarge(maxBytes);
	if (!request.body) throw new HttpError(400, 'invalid_json', 'The request body is empty; send a JSON object.');
	// A declared length frames the body (HTTP/1.1 §6.3; the edge enforces it), checked above: read at
	// once, one wait instead of one a chunk, and the count checked again in case it understated.
	const bytes = request.headers.has('content-length') ? new Uint8Array(await request.arrayBuffer()) : await readCapped(request.body, maxBytes);
	if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
	let text: string;
	try {
		text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new HttpError(400, 'invalid_json', 'The request body is not valid UTF-8.');
	}
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new HttpError(400, 'invalid_json', `The request body is not valid JSON: ${(error as Error).message}`);
	}
}

/** A body of undeclared length (chunked), read up to `maxBytes`. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
	const reader = body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			throw tooLarge(maxBytes);
		}
		chunks.push(value);
	}
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return bytes;
}

/** A body must be a JSON object before a schema looks at it. */
export function requireObject(body: unknown): Record<string, unknown> {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		throw new HttpError(422, 'validation_failed', 'The request body must be a JSON object.', {
			fields: { _: 'Expected a JSON object' }
		});
	}
	return body as Record<string, unknown>;
}

function tooLarge(maxBytes: number): HttpError {
	return new HttpError(413, 'payload_too_large', `The request body is larger than ${maxBytes} bytes.`);
}

/** Validates a request body against a shared schema; failures become field errors. */
export async function readBody<T>(request: Request, schema: z.ZodType<T>, maxBytes = MAX_BODY_BYTES): Promise<T> {
	const result = schema.safeParse(requireObject(await readJson(request, maxBytes)));
	if (!result.success) throw validationFailed(fieldErrors(result.error.issues));
	return result.data;
}
