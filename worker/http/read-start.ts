/**
 * Reading the start of an HTTP answer from a server Mailgate does not control (a help desk's
 * webhook receiver, Microsoft Graph, the Gmail API): at most `limit` bytes, the rest cancelled
 * unread, so a huge or endless body costs nothing. A leaf: Web APIs only.
 */

/** The first `limit` bytes of an answer, as text; the rest is never read. */
export async function readStart(response: Response, limit: number): Promise<string> {
	if (!response.body) return '';
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	while (size < limit) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		size += value.byteLength;
	}
	await reader.cancel().catch(() => {});
	const bytes = new Uint8Array(Math.min(size, limit));
	let offset = 0;
	for (const chunk of chunks) {
		const part = chunk.subarray(0, bytes.byteLength - offset);
		bytes.set(part, offset);
		offset += part.byteLength;
		if (offset >= bytes.byteLength) break;
	}
	return new TextDecoder().decode(bytes);
}
