/**
 * Global setup (Node): real SMTP servers on loopback, one per case of the sending test
 * (smtp-server for SMTP, plain TCP for servers that misbehave before SMTP starts), and an HTTP
 * endpoint that lists the messages they received. Ports reach the workerd tests as a binding.
 */
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TestProject } from 'vitest/node';

export const SMTP_USER = 'support@acme.test';
export const SMTP_PASSWORD = 'Corr3ct-h0rse-battery';

declare module 'vitest' {
	export interface ProvidedContext {
		smtpPorts: string;
	}
}

interface Received {
	server: string;
	from: string;
	to: string[];
	data: string;
}

export default async function setup(project: TestProject) {
	const received: Received[] = [];
	const closers: Array<() => Promise<void>> = [];
	const ports: Record<string, number> = {};

	const listen = async (server: net.Server): Promise<number> => {
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		return (server.address() as AddressInfo).port;
	};

	const smtp = async (name: string, options: Partial<SMTPServerOptions>) => {
		const server = new SMTPServer({
			logger: false,
			disableReverseLookup: true,
			allowInsecureAuth: true,
			authMethods: ['PLAIN', 'LOGIN'],
			onAuth(auth, _session, callback) {
				if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return callback(null, { user: auth.username });
				const error = Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 });
				callback(error);
			},
			onData(stream, session, callback) {
				const chunks: Buffer[] = [];
				stream.on('data', (chunk: Buffer) => chunks.push(chunk));
				stream.on('end', () => {
					received.push({
						server: name,
						from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
						to: session.envelope.rcptTo.map((r) => r.address),
						data: Buffer.concat(chunks).toString('utf8')
					});
					callback();
				});
			},
			...options
		});
		// Failed handshakes are the point of some cases; they must not crash the test run.
		server.on('error', () => {});
		ports[name] = await listen(server.server);
		closers.push(() => new Promise((resolve) => server.close(() => resolve())));
	};

	const raw = async (name: string, onConnection: (socket: net.Socket) => void) => {
		const sockets = new Set<net.Socket>();
		const server = net.createServer((socket) => {
			sockets.add(socket);
			socket.on('close', () => sockets.delete(socket));
			socket.on('error', () => {});
			onConnection(socket);
		});
		ports[name] = await listen(server);
		closers.push(
			() =>
				new Promise((resolve) => {
					for (const socket of sockets) socket.destroy();
					server.close(() => resolve());
				})
		);
	};

	// Success, wrong password and refused recipient share behaviour but not servers.
	await smtp('plain', {});
	// Only AUTH LOGIN: the username and password travel as separate base64 lines.
	await smtp('loginOnly', { authMethods: ['LOGIN'] });
	await smtp('oauth', {
		onAuth(_auth, _session, callback) {
			callback(
				Object.assign(new Error('5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR02CA0001.eurprd02.prod.outlook.com]'), {
					responseCode: 535
				})
			);
		}
	});
	// Offers STARTTLS and refuses AUTH before it (smtp-server's default: allowInsecureAuth off).
	await smtp('starttlsRequired', { allowInsecureAuth: false });
	// STARTTLS and implicit TLS with smtp-server's built-in self-signed certificate.
	await smtp('starttlsSelfSigned', { allowInsecureAuth: false });
	await smtp('implicitSelfSigned', { secure: true });
	await smtp('rcptRefused', {
		onRcptTo(address, _session, callback) {
			if (address.address.startsWith('nobody@')) {
				return callback(Object.assign(new Error('5.1.1 <' + address.address + '>: Recipient address rejected: User unknown in virtual mailbox table'), { responseCode: 550 }));
			}
			callback();
		}
	});
	// Accepts the connection and never says a word.
	await raw('silent', () => {});
	// RFC 5321 §3.8: a server that cannot serve answers 421 and closes.
	await raw('busy', (socket) => socket.end('421 4.3.2 mx.acme.test Service not available, too many connections\r\n'));
	// A port that was open a moment ago and is closed now.
	const probe = net.createServer();
	ports.closed = await listen(probe);
	await new Promise<void>((resolve) => probe.close(() => resolve()));

	const control = createHttpServer((request, response) => {
		if (request.url === '/received') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(received));
		} else response.writeHead(404).end();
	});
	ports.control = await listen(control);
	closers.push(() => new Promise((resolve) => control.close(() => resolve())));

	project.provide('smtpPorts', JSON.stringify(ports));
	return async () => {
		await Promise.all(closers.map((close) => close()));
	};
}
