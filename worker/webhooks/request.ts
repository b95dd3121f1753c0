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
