/**
 * Delivers a raw message through the real email() handler inside workerd, the way Email
 * Routing does, and reads the log row back through /api/messages. Shared by the inbound
 * test files so each one states only its messages and expectations.
 */
import { env } from 'cloudflare:test';
import worker from '../../worker/index';
import { call } from './helpers';

/** The topmost hop Cloudflare's MX adds; the handler takes the client IP and HELO from it (SPEC §5.2). */
export function cloudflareHop(ip: string, helo = 'mail.sender.example'): string {
	return (
		`Received-SPF: none (mx.cloudflare.net: no SPF checked) receiver=mx.cloudflare.net; client-ip=${ip}; helo=${helo};\r\n` +
		`Received: from ${helo} (${helo} [${ip}]) by mx.cloudflare.net (Postfix) with ESMTPS id 4X2; Tue, 24 Nov 2026 09:00:01 +0000\r\n`
	);
}

export interface DeliverOptions {
	/** Envelope sender (MAIL FROM). */
	from: string;
	/** Envelope recipient (RCPT TO). */
	to: string;
	/** Client IP of Cloudflare's hop, prepended to the message. */
	hopIp: string;
}

/**
 * A string is sent as UTF-8; bytes are sent as they are, so 8-bit bodies in other charsets
 * arrive byte-exact. The row is looked up by the message's first Message-ID.
 */
export async function deliver(raw: string | Uint8Array, options: DeliverOptions) {
	const { rejected, bytes } = await handOver(raw, options);
	// latin1 maps every byte to one character, so the ASCII Message-ID reads the same whatever the body holds.
	const id = /Message-ID: <([^>]+)>/i.exec(new TextDecoder('latin1').decode(bytes))?.[1];
	const logged = await call('GET', `/api/messages?messageId=${encodeURIComponent(`<${id}>`)}`);
	return { rejected, item: logged.body.items[0], id };
}

/**
 * Hands a message to email() with Cloudflare's hop on top, as Email Routing does, and returns
 * the refusal (null when accepted); `overrides` changes the Worker's env for this delivery.
 */
export async function handOver(raw: string | Uint8Array, options: DeliverOptions & { overrides?: Partial<Env> }) {
	const hop = new TextEncoder().encode(cloudflareHop(options.hopIp));
	const body = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
	const bytes = new Uint8Array(hop.byteLength + body.byteLength);
	bytes.set(hop);
	bytes.set(body, hop.byteLength);
	let rejected: string | null = null;
	const email = {
		from: options.from,
		to: options.to,
		raw: new Response(bytes).body!,
		rawSize: bytes.byteLength,
		headers: new Headers(),
		setReject: (reason: string) => {
			rejected = reason;
		},
		forward: async () => ({}) as never,
		reply: async () => ({}) as never
	};
	await worker.email(email as unknown as ForwardableEmailMessage, { ...env, ...options.overrides } as Env);
	return { rejected: rejected as string | null, bytes };
}
