/**
 * Whole messages in MAIL_ARCHIVE (SPEC §5.6, §10): an inbound message's original and a reply's
 * composed message are written the same way, read back whole when D1 holds a cut copy, and
 * downloaded as `.eml`. Takes the bucket, never the Env.
 */
import PostalMime from 'postal-mime';
import { safeFileName } from '../../src/lib/schema/message';
import { readBodyText } from '../mail/body-text';
import { readHeaderBlock } from '../mail/header-block';
import { sanitizeHtml } from '../mail/sanitize-html';
import { partBytes } from './parts';
import { parseMail } from '../inbound/parse-mail';

/** Keeps a whole message under `key` (archive/keys.ts), its Message-ID beside it for an operator browsing the bucket. */
export async function putMessage(bucket: R2Bucket, key: string, raw: Uint8Array | string, messageId: string): Promise<void> {
	await bucket.put(key, raw, { httpMetadata: { contentType: 'message/rfc822' }, customMetadata: { messageId } });
}

/** A composed reply's text, exactly as it leaves; null when it is no longer kept. */
export async function readComposed(bucket: R2Bucket, key: string): Promise<string | null> {
	const object = await bucket.get(key);
	return object ? object.text() : null;
}

/** What a message page shows of a message: its header block, text and sanitised HTML. */
export interface MessageContent {
	headers: string;
	/** The text body, or for HTML-only mail the HTML's rendition (SPEC §11, as the log row keeps it); null when neither. */
	text: string | null;
	html: string | null;
}

/**
 * The whole content of an archived message, for a page whose row holds a cut copy (D1's row
 * budgets). One rule for inbound originals and composed replies: parsed with attached messages
 * kept as attachments (their text is not the message's), the text as the row would have kept it
 * whole, the HTML sanitised. `headersOnly` reads just the header block (refused mail keeps no
 * content, SPEC §5.6). Null when the object is gone (past retention).
 */
export async function readMessageContent(bucket: R2Bucket, key: string, options: { headersOnly?: boolean } = {}): Promise<Partial<MessageContent> & { headers: string } | null> {
	const object = await bucket.get(key);
	if (!object) return null;
	const raw = new Uint8Array(await object.arrayBuffer());
	const headers = readHeaderBlock(raw);
	if (options.headersOnly) return { headers };
	// Parsed as the log row's text was (a UTF-7 text decoded), so the whole text reads as its cut copy did.
	const parsed = await parseMail(raw);
	const body = readBodyText(parsed);
	return {
		headers,
		text: parsed.text || body.fromHtml ? body.text : null,
		html: parsed.html ? await sanitizeHtml(parsed.html) : null
	};
}

/**
 * Attachment `index` of an archived original, parsed as the log row counted its attachments (a
 * message stored before its parts were kept apart, archive/parts.ts): 'gone' when the original
 * is no longer kept, null when it has no such attachment.
 */
export async function readOriginalAttachment(
	bucket: R2Bucket,
	key: string,
	index: number
): Promise<{ bytes: Uint8Array; filename: string | null; contentType: string } | 'gone' | null> {
	const object = await bucket.get(key);
	if (!object) return 'gone';
	const parsed = await PostalMime.parse(await object.arrayBuffer(), { rfc822Attachments: true });
	const part = parsed.attachments[index];
	return part ? { bytes: partBytes(part.content), filename: part.filename, contentType: part.mimeType } : null;
}

/** `GET …/raw`: the archived message byte for byte, as a download named `<name>.eml`; null when it is gone. */
export async function emlResponse(bucket: R2Bucket, key: string, name: string): Promise<Response | null> {
	const object = await bucket.get(key);
	return object ? eml(object.body, object.size, name) : null;
}

/** `emlResponse` of a message at hand (a reply's composed message its row still keeps, outbound/composed.ts). */
export function emlOf(raw: string, name: string): Response {
	const bytes = new TextEncoder().encode(raw);
	return eml(bytes, bytes.byteLength, name);
}

function eml(body: ReadableStream | Uint8Array, size: number, name: string): Response {
	return new Response(body, {
		headers: {
			'content-type': 'message/rfc822',
			'content-length': String(size),
			'content-disposition': `attachment; filename="${safeFileName(name)}.eml"`,
			'cache-control': 'no-store',
			'x-content-type-options': 'nosniff'
		}
	});
}
