/**
 * One delivery's HTTP exchange (SPEC §11): the signed POST of the stored body with Standard
 * Webhooks headers, and the start of the help desk's answer (the rest is never read).
 */
import { signWebhook } from './sign';

/** The signed request of one attempt: Standard Webhooks headers over the stored body. */
export async function signedRequest(options: { id: string; payload: string; secret: string; url: string; at: Date }): Promise<Request> {
	const signature = await signWebhook(options);
	return new Request(options.url, {
		method: 'POST',
		// Never follow a redirect: it could lead anywhere, including hosts the URL rules refuse.
		redirect: 'manual',
		headers: {
			'content-type': 'application/json',
			'user-agent': 'Mailgate-Webhooks/1.0',
			'webhook-id': options.id,
			'webhook-timestamp': String(Math.floor(options.at.getTime() / 1000)),
			'webhook-signature': signature
		},
		body: options.payload
	});
}

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
