// `npm start`'s local SMTP server is where a newcomer sees a reply leave (SPEC §8, §10): each
// message is saved and announced with its subject, its From (the mailbox name and address) and
// its recipients.
import { readFileSync } from 'node:fs';
import net from 'node:net';
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
	expect(await say(`${lines.data}\r\n.`)).toMatch(/^250/);
	await say('QUIT');
	socket.destroy();
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
			await send(server.port, { from: 'support@acme.example', to: 'customer@example.org', data });
			const line = logs.find((l) => l.startsWith('[local smtp] Re:'));
			expect(line).toContain('Re: Where is my order? — from "Acme Support" <support@acme.example> to customer@example.org');
			const file = /saved to (\S+)$/.exec(line!)?.[1];
			expect(readFileSync(file!, 'utf8')).toContain('It left today.');
		} finally {
			await server.close();
		}
	});
});
