/**
 * A bench-only Worker (bench/webhooks/wrangler.toml): the Worker's own cost of one webhook
 * delivery, the real `signedRequest` (Standard Webhooks signing) plus the fetch, against a bare
 * fetch of the same body to the same receiver. Each request runs `n` deliveries in a row;
 * bench/webhooks/run.mjs times them from outside (time inside workerd does not advance while
 * code runs).
 */
import { signedRequest } from '../../worker/webhooks/request';

const SECRET = `whsec_${btoa('bench-secret-bench-secret-bench!')}`;

export default {
	async fetch(request: Request): Promise<Response> {
		const url = new URL(request.url);
		const n = Number(url.searchParams.get('n') ?? '1');
		const target = url.searchParams.get('to')!;
		const payload = await request.text();
		for (let i = 0; i < n; i++) {
			const outgoing =
				url.pathname === '/signed'
					? await signedRequest({ id: `msg_bench${i}`, payload, secret: SECRET, url: target, at: new Date() })
					: new Request(target, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: payload });
			const response = await fetch(outgoing);
			await response.arrayBuffer();
		}
		return new Response('ok');
	}
};
