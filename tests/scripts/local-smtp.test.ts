// `npm start`'s local SMTP server is where a newcomer sees a reply leave (SPEC §8, §10): each
// message is saved and announced with its subject, its From (the mailbox name and address) and
// its recipients.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LOCAL_SMTP_PASSWORD, startLocalSmtp } from '../../scripts/local-smtp.mjs';

/** Speaks just enough SMTP (RFC 5321) to hand over one message, waiting for each reply. */
async function send(port: number, lines: { from: string; to: string; data: string }) {
	const socket = net.connect(port, '127.0.0.1');
	let buffer = '';
	const reply = () =>
		new Promise<string>((resolve) => {
			const check = () => {
				const match = /(^|\n)(\d{3}) [^\n]*\n/.exec(buffer);
				if (!match) return;
				const text = buffer.slice(0, match.index + match[0].length);
				buffer = buffer.slice(text.length);
				socket.off('data', onData);
				resolve(text);
			};
			const onData = (chunk: Buffer) => {
				buffer += chunk.toString();
				check();
			};
			socket.on('data', onData);
			check();
		});
	const say = async (line: string) => {
		socket.write(`${line}\r\n`);
		return reply();
	};
	expect(await reply()).toMatch(/^220/);
	expect(await say('EHLO test.local')).toMatch(/^250/m);
	expect(await say(`AUTH PLAIN ${Buffer.from(`\0anyone\0${LOCAL_SMTP_PASSWORD}`).toString('base64')}`)).toMatch(/^235/);
	expect(await say(`MAIL FROM:<${lines.from}>`)).toMatch(/^250/);
	expect(await say(`RCPT TO:<${lines.to}>`)).toMatch(/^250/);
	expect(await say('DATA')).toMatch(/^354/);
	const final = await say(`${lines.data}\r\n.`);
	await say('QUIT');
	socket.destroy();
	return final;
}

describe('the local SMTP server', () => {
	it('saves each message and prints who it is from, to whom, and its subject', async () => {
		const logs: string[] = [];
		const server = await startLocalSmtp({ port: 0, log: (line) => logs.push(line) });
		try {
			const data = [
				'From: "Acme Support" <support@acme.example>',
				'To: customer@example.org',
				'Subject: Re: Where is my',
				' order?',
				'Message-ID: <local-1@acme.example>',
				'',
				'It left today.'
			].join('\r\n');
			expect(await send(server.port, { from: 'support@acme.example', to: 'customer@example.org', data })).toMatch(/^250/);
			const line = logs.find((l) => l.startsWith('[local smtp] Re:'));
			expect(line).toContain('Re: Where is my order? — from "Acme Support" <support@acme.example> to customer@example.org');
			const file = /saved to (\S+)$/.exec(line!)?.[1];
			expect(readFileSync(file!, 'utf8')).toContain('It left today.');
		} finally {
			await server.close();
		}
	});

	it('with a relay, hands mail for a service address to the email endpoint with Cloudflare\'s hop, and passes a refusal on', async () => {
		// Stands in for `wrangler dev`: the mailbox list and the email endpoint (SPEC §8, §13).
		const posted: Array<{ url: string; body: string }> = [];
		const addresses = ['Support@Acme.example'];
		let refuse = false;
		const worker = createServer((request, response) => {
			if (request.url === '/api/mailboxes') {
				expect(request.headers.authorization).toBe('Bearer local-token');
				response.writeHead(200, { 'content-type': 'application/json' });
				return response.end(JSON.stringify({ items: addresses.map((address) => ({ address })) }));
			}
			const chunks: Buffer[] = [];
			request.on('data', (chunk: Buffer) => chunks.push(chunk));
			request.on('end', () => {
				posted.push({ url: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
				if (refuse) response.writeHead(400).end('Worker rejected email with the following reason: 550 5.7.1 Unauthenticated email');
				else response.writeHead(200).end('Worker successfully processed email');
			});
		});
		await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
		const origin = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
		const logs: string[] = [];
		const server = await startLocalSmtp({ port: 0, log: (line) => logs.push(line), relay: { origin, adminToken: 'local-token' } });
		try {
			const data = ['From: "Acme Support" <support@acme.example>', 'To: support@acme.example', 'Subject: Mailgate mail flow check', 'Message-ID: <probe-1@acme.example>', '', 'Probe.'].join('\r\n');
			expect(await send(server.port, { from: 'support@acme.example', to: 'support@acme.example', data })).toMatch(/^250/);
			expect(posted).toHaveLength(1);
			expect(posted[0]!.url).toBe('/cdn-cgi/handler/email?from=support%40acme.example&to=support%40acme.example');
			expect(posted[0]!.body).toMatch(/^Received-SPF: none \(mx\.cloudflare\.net: [^)]*\) receiver=mx\.cloudflare\.net; client-ip=127\.0\.0\.1; helo=test\.local;\r\nReceived: from test\.local \(test\.local \[127\.0\.0\.1\]\) by mx\.cloudflare\.net /);
			expect(posted[0]!.body).toContain('\r\n\r\nProbe.');
			expect(logs).toContain('[local smtp] handed to the Worker for support@acme.example, as Email Routing would');

			// A customer's address is not a service address: saved only.
			expect(await send(server.port, { from: 'support@acme.example', to: 'customer@example.org', data })).toMatch(/^250/);
			expect(posted).toHaveLength(1);
			// A mailbox saved a moment ago is found, though the list was just read.
			addresses.push('sales@acme.example');
			expect(await send(server.port, { from: 'sales@acme.example', to: 'sales@acme.example', data })).toMatch(/^250/);
			expect(posted.at(-1)!.url).toBe('/cdn-cgi/handler/email?from=sales%40acme.example&to=sales%40acme.example');

			// The Worker's refusal reaches the sender during the dialogue, as at Cloudflare's MX.
			refuse = true;
			expect(await send(server.port, { from: 'support@acme.example', to: 'support@acme.example', data })).toMatch(/^550 .*Unauthenticated email/);
		} finally {
			await server.close();
			await new Promise<void>((resolve) => worker.close(() => resolve()));
		}
	});
});
