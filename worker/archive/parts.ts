/**
 * SPEC §11 attachment downloads without re-parsing the original (up to 25 MiB) each time: when
 * a message is stored, the decoded bytes of its attachments are written once, one after the
 * other in index order, as one R2 object `parts/<log id>`. The row's `attachments[i].size` (the
 * same bytes counted at the same time) gives each part's place, the sum of the sizes before it,
 * so a download is one ranged read of exactly its bytes. One object per message keeps the
 * inbound write at one put however many parts there are, and retention at one known key per row.
 */

import { partsKey } from './keys';

/** postal-mime gives an attachment's content as bytes (or a string, with its attachmentEncoding option). */
export type PartContent = ArrayBuffer | Uint8Array | string;

/** The bytes a download answers for a part, counted exactly as the row's `size` counts them. */
export function partBytes(content: PartContent): Uint8Array {
	if (typeof content === 'string') return new TextEncoder().encode(content);
	return content instanceof Uint8Array ? content : new Uint8Array(content);
}

/**
 * Writes the parts as one object. Streamed through a FixedLengthStream (R2 needs the length
 * up front) rather than joined into one buffer: the handler already holds the original and its
 * parsed copy, up to 25 MiB each, within the Worker's 128 MB.
 */
export async function putParts(bucket: R2Bucket, logId: string, contents: readonly PartContent[]): Promise<void> {
	const parts = contents.map(partBytes);
	const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
	const { readable, writable } = new FixedLengthStream(total);
	const writer = writable.getWriter();
	const written = (async () => {
		for (const part of parts) if (part.byteLength > 0) await writer.write(part);
		await writer.close();
	})();
	await Promise.all([
		bucket.put(partsKey(logId), readable, {
			httpMetadata: { contentType: 'application/octet-stream' },
			customMetadata: { parts: String(parts.length) }
		}),
		written
	]);
}

/**
 * Part `index` of a message whose parts have these sizes, read from its parts object: the
 * body stream, or null when there is no parts object (a message stored before they were kept)
 * or it does not hold exactly these sizes (then the caller reads the original instead).
 */
export async function readPart(bucket: R2Bucket, logId: string, sizes: readonly number[], index: number): Promise<ReadableStream | Uint8Array | null> {
	const length = sizes[index];
	if (length === undefined) return null;
	const offset = sizes.slice(0, index).reduce((sum, size) => sum + size, 0);
	const total = sizes.reduce((sum, size) => sum + size, 0);
	if (length === 0) {
		// A ranged read needs a length of at least one byte; only the object's presence matters here.
		const head = await bucket.head(partsKey(logId));
		return head && head.size === total ? new Uint8Array(0) : null;
	}
	const object = await bucket.get(partsKey(logId), { range: { offset, length } });
	if (!object) return null;
	if (object.size !== total) {
		await object.body.cancel();
		return null;
	}
	return object.body;
}
