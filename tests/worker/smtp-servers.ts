/**
 * Global setup (Node): real SMTP servers on loopback, one per case of the sending test
 * (smtp-server for SMTP, plain TCP for servers that misbehave before SMTP starts), and an HTTP
 * endpoint that lists the messages they received. Ports reach the workerd tests as a binding.
 * Also the OAuth 2.0 provider stand-in (scripts/local-oauth.mjs) and an SMTP server that takes
 * only AUTH XOAUTH2 with the access tokens that stand-in issued (SPEC §12).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TestProject } from 'vitest/node';
import { startLocalOAuth } from '../../scripts/local-oauth.mjs';

export const SMTP_USER = 'support@acme.test';
export const SMTP_PASSWORD = 'Corr3ct-h0rse-battery';
/** The `small` peer's SIZE (RFC 1870): a reply with a few KB of text is over it (its tests read it from the EHLO reply). */
const SMALL_MESSAGE_BYTES = 4000;
/** Every peer answers the data of a message to an address at slow-data.example this late. */
const SLOW_DATA_MS = 300;

declare module 'vitest' {
	export interface ProvidedContext {
		smtpPorts: string;
		/** The OAuth stand-in: `{ origin, vars }` (vars: the Worker's OAUTH_* settings pointing at it). */
		oauthStandIn: string;
	}
}

/** One account of the limited peer: its limits, and what it saw. */
export interface LimitedAccount {
	concurrent: number;
	perWindow: number;
	windowMs: number;
	open: number;
	/** The most sessions it had open at once. */
	maxOpen: number;
	sessions: number;
	accepted: Array<{ at: number; messageId: string }>;
	refusals: Array<{ at: number; code: number }>;
}

const limitedAccount = (limits: { concurrent?: number; perWindow?: number; windowMs?: number }): LimitedAccount => ({
	concurrent: limits.concurrent ?? Number.MAX_SAFE_INTEGER,
	perWindow: limits.perWindow ?? Number.MAX_SAFE_INTEGER,
	windowMs: limits.windowMs ?? 60_000,
	open: 0,
	maxOpen: 0,
	sessions: 0,
	accepted: [],
	refusals: []
});

/** One scripted answer of the `scripted` peer (SPEC §15's limit answers, at the step a provider gives them). */
export interface ScriptedAnswer {
	at: 'auth' | 'mail' | 'rcpt' | 'data';
	code: number;
	text: string;
}

interface Received {
	server: string;
	/** smtp-server's id of the connection (one per SMTP session). */
	session: string;
	from: string;
	to: string[];
	data: string;
}

export default async function setup(project: TestProject) {
	const received: Received[] = [];
	const auths: Array<{ server: string; method: string; username: string; secret: string }> = [];
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
					const to = session.envelope.rcptTo.map((r) => r.address);
					received.push({
						server: name,
						session: session.id,
						from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
						to,
						data: Buffer.concat(chunks).toString('utf8')
					});
					// A provider slow to take a message (issue 22, RFC 2920 §3.1 tests): what the client writes meanwhile shows.
					if (to.some((address) => address.endsWith('@slow-data.example'))) setTimeout(callback, SLOW_DATA_MS);
					else callback();
				});
			},
			...options
		});
		// Failed handshakes are the point of some cases; they must not crash the test run.
		server.on('error', () => {});
		ports[name] = await listen(server.server);
		closers.push(() => new Promise((resolve) => server.close(() => resolve())));
		return server;
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
	// "Another server" for the credential binding (tests/worker/credential-binding.test.ts): takes
	// any login and records every AUTH it is offered, so a test can show a stored secret never came.
	await smtp('recordsAuth', {
		authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
		onAuth(auth, _session, callback) {
			auths.push({ server: 'recordsAuth', method: auth.method, username: auth.username ?? '', secret: auth.password ?? auth.accessToken ?? '' });
			callback(null, { user: auth.username });
		}
	});
	// Replies (SPEC §10): accepts everything but refuses recipients at refused.example.
	await smtp('outbound', {
		onRcptTo(address, _session, callback) {
			if (address.address.endsWith('@refused.example')) {
				return callback(Object.assign(new Error('5.1.1 <' + address.address + '>: Recipient address rejected: User unknown in virtual mailbox table'), { responseCode: 550 }));
			}
			callback();
		}
	});
	// Answers each message's first DATA with a temporary failure, then accepts it.
	const seen = new Set<string>();
	await smtp('tempfail', {
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', () => {
				const data = Buffer.concat(chunks).toString('utf8');
				const id = /^Message-ID: *(\S+)/im.exec(data)?.[1] ?? '';
				if (!seen.has(id)) {
					seen.add(id);
					return callback(Object.assign(new Error('4.7.0 Temporary server error. Please try again later. PRX4 Submission rate limit exceeded'), { responseCode: 451 }));
				}
				received.push({ server: 'tempfail', session: session.id, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
				callback();
			});
		}
	});
	// Refuses every message for good.
	await smtp('permfail', {
		onData(stream, _session, callback) {
			stream.resume();
			stream.on('end', () => callback(Object.assign(new Error('5.7.1 Message rejected as spam by Content Filtering.'), { responseCode: 554 })));
		}
	});
	// Takes the whole message and hangs up without a word: it may or may not have been delivered.
	await raw('dropAfterData', (socket) => {
		let buffer = '';
		let inData = false;
		socket.write('220 drop.test ESMTP\r\n');
		socket.on('data', (chunk) => {
			buffer += chunk.toString('latin1');
			for (;;) {
				if (inData) {
					const end = buffer.indexOf('\r\n.\r\n');
					if (end < 0) return;
					received.push({ server: 'dropAfterData', session: 'raw', from: '', to: [], data: buffer.slice(0, end) });
					socket.destroy();
					return;
				}
				const line = buffer.indexOf('\r\n');
				if (line < 0) return;
				const command = buffer.slice(0, line);
				buffer = buffer.slice(line + 2);
				if (/^EHLO/i.test(command)) socket.write('250-drop.test\r\n250 AUTH PLAIN LOGIN\r\n');
				else if (/^DATA/i.test(command)) {
					inData = true;
					socket.write('354 go ahead\r\n');
				} else if (/^AUTH PLAIN/i.test(command)) socket.write('235 2.7.0 Authentication successful\r\n');
				else socket.write('250 2.0.0 OK\r\n');
			}
		});
	});
	// Issue 22: peers that keep every chunk the client wrote, per connection, so a test sees which
	// commands travelled together (RFC 2920), whether RSET and QUIT were said, and the EHLO name.
	// `pipelined` offers PIPELINING (smtp-server's default) and SIZE of 10 MiB; `unpipelined` hides
	// PIPELINING; `small` takes at most SMALL_MESSAGE_BYTES (RFC 1870 SIZE); `twoRecipients` takes two
	// recipients a transaction, with Postfix's words past them (smtpd_recipient_limit, RFC 5321
	// §4.5.3.1.10). Each refuses senders at blocked.example and recipients at refused.example.
	const wire: Array<{ server: string; connection: number; chunks: string[] }> = [];
	const recording = async (name: string, options: Partial<SMTPServerOptions>, recipientsPerTransaction = Number.POSITIVE_INFINITY) => {
		const server = await smtp(name, {
			onMailFrom(address, _session, callback) {
				if (!address.address.endsWith('@blocked.example')) return callback();
				callback(Object.assign(new Error('5.7.1 <' + address.address + '>: Sender address rejected: not owned by user'), { responseCode: 553 }));
			},
			onRcptTo(address, session, callback) {
				if (address.address.endsWith('@refused.example')) {
					return callback(Object.assign(new Error('5.1.1 <' + address.address + '>: Recipient address rejected: User unknown in virtual mailbox table'), { responseCode: 550 }));
				}
				if (session.envelope.rcptTo.length < recipientsPerTransaction) return callback();
				callback(Object.assign(new Error('4.5.3 Error: too many recipients'), { responseCode: 452 }));
			},
			...options
		});
		let connections = 0;
		server.server.on('connection', (socket: net.Socket) => {
			const record = { server: name, connection: ++connections, chunks: [] as string[] };
			wire.push(record);
			socket.on('data', (chunk: Buffer) => record.chunks.push(chunk.toString('latin1')));
		});
	};
	await recording('pipelined', { size: 10 * 1024 * 1024 });
	await recording('unpipelined', { hidePIPELINING: true });
	await recording('small', { size: SMALL_MESSAGE_BYTES });
	await recording('twoRecipients', {}, 2);
	// SPEC §12: only XOAUTH2, and only with an unexpired, unrevoked access token the stand-in issued
	// to the account logging in. A refusal goes the way Gmail's does: a 334 carrying the error as
	// JSON, then 535 after the client's empty line.
	const oauth = await startLocalOAuth();
	closers.push(() => oauth.close());
	await smtp('xoauth2', {
		authMethods: ['XOAUTH2'],
		onAuth(auth, _session, callback) {
			if (auth.method === 'XOAUTH2' && oauth.isValidAccessToken(auth.accessToken ?? '', auth.username ?? '')) return callback(null, { user: auth.username });
			callback(null, { data: { status: '401', schemes: 'Bearer', scope: 'https://mail.google.com/' } });
		}
	});
	// Microsoft 365 with SMTP AUTH off for the mailbox: the token is never even looked at.
	await smtp('xoauth2Disabled', {
		authMethods: ['XOAUTH2'],
		onAuth(_auth, _session, callback) {
			callback(
				Object.assign(new Error('5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.'), {
					responseCode: 535
				})
			);
		}
	});
	// SPEC §15: a provider that limits each account (the login's username) as Microsoft 365 does:
	// sessions at once (432 4.3.2 at AUTH) and messages in a rolling window (421 4.7.0 at the data).
	// A test sets an account's limits (and clears its counts) with PUT /limited/ACCOUNT and reads
	// what happened with GET /limited/ACCOUNT; an account nobody set has no limits.
	const accounts = new Map<string, LimitedAccount>();
	const accountOf = (name: string) => accounts.get(name) ?? accounts.set(name, limitedAccount({})).get(name)!;
	await smtp('limited', {
		onAuth(auth, _session, callback) {
			if (auth.password !== SMTP_PASSWORD) return callback(Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 }));
			const account = accountOf(auth.username ?? '');
			if (account.open >= account.concurrent) {
				account.refusals.push({ at: Date.now(), code: 432 });
				return callback(Object.assign(new Error('4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.'), { responseCode: 432 }));
			}
			account.open++;
			account.maxOpen = Math.max(account.maxOpen, account.open);
			account.sessions++;
			callback(null, { user: auth.username });
		},
		onClose(session) {
			const account = typeof session.user === 'string' ? accounts.get(session.user) : undefined;
			if (account) account.open--;
		},
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', () => {
				const account = accountOf(String(session.user));
				const at = Date.now();
				if (account.accepted.filter((sent) => sent.at > at - account.windowMs).length >= account.perWindow) {
					account.refusals.push({ at, code: 421 });
					return callback(Object.assign(new Error('4.7.0 Message rate limit exceeded: too many messages in the last minute. Try again later.'), { responseCode: 421 }));
				}
				const data = Buffer.concat(chunks).toString('utf8');
				account.accepted.push({ at, messageId: /^Message-ID: *<([^>\s]+)>/im.exec(data)?.[1] ?? '' });
				received.push({ server: 'limited', session: session.id, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
				callback();
			});
		}
	});
	// SPEC §15: a provider that answers what a test scripted for an account (the login's username):
	// PUT /scripted/ACCOUNT with [{ at: 'auth' | 'mail' | 'rcpt' | 'data', code, text }] refuses the
	// next step at each `at` with that answer, once each, in order; otherwise it accepts. GET
	// /scripted/ACCOUNT says how many messages it accepted and what of the script is left.
	const scripts = new Map<string, { steps: ScriptedAnswer[]; accepted: number }>();
	const scriptedAnswer = (account: string, at: ScriptedAnswer['at']): Error | null => {
		const script = scripts.get(account);
		const index = script ? script.steps.findIndex((step) => step.at === at) : -1;
		if (!script || index < 0) return null;
		const [step] = script.steps.splice(index, 1);
		return Object.assign(new Error(step!.text), { responseCode: step!.code });
	};
	await smtp('scripted', {
		onAuth(auth, _session, callback) {
			if (auth.password !== SMTP_PASSWORD) return callback(Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 }));
			callback(scriptedAnswer(auth.username ?? '', 'auth'), { user: auth.username });
		},
		onMailFrom: (_address, session, callback) => callback(scriptedAnswer(String(session.user), 'mail')),
		onRcptTo: (_address, session, callback) => callback(scriptedAnswer(String(session.user), 'rcpt')),
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', () => {
				const refusal = scriptedAnswer(String(session.user), 'data');
				if (refusal) return callback(refusal);
				const script = scripts.get(String(session.user));
				if (script) script.accepted++;
				received.push({ server: 'scripted', session: session.id, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString('utf8') });
				callback();
			});
		}
	});
	const answerScripted = (request: IncomingMessage, response: ServerResponse): boolean => {
		const scripted = /^\/scripted\/([^/?]+)$/.exec(request.url ?? '');
		if (!scripted) return false;
		const account = decodeURIComponent(scripted[1]!);
		if (request.method !== 'PUT') {
			response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(scripts.get(account) ?? null));
			return true;
		}
		let body = '';
		request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
		request.on('end', () => {
			scripts.set(account, { steps: JSON.parse(body || '[]') as ScriptedAnswer[], accepted: 0 });
			response.writeHead(204).end();
		});
		return true;
	};
	project.provide('oauthStandIn', JSON.stringify({ origin: oauth.origin, vars: oauth.workerVars() }));
	// A port that was open a moment ago and is closed now.
	const probe = net.createServer();
	ports.closed = await listen(probe);
	await new Promise<void>((resolve) => probe.close(() => resolve()));

	const control = createHttpServer((request, response) => {
		if (answerScripted(request, response)) return;
		const limited = /^\/limited\/([^/?]+)$/.exec(request.url ?? '');
		if (limited && request.method === 'PUT') {
			let body = '';
			request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
			request.on('end', () => {
				accounts.set(decodeURIComponent(limited[1]!), limitedAccount(JSON.parse(body || '{}')));
				response.writeHead(204).end();
			});
		} else if (limited) {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(accounts.get(decodeURIComponent(limited[1]!)) ?? null));
		} else if (request.url === '/received') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(received));
		} else if (request.url === '/wire') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(wire));
		} else if (request.url === '/auths') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(auths));
		} else response.writeHead(404).end();
	});
	ports.control = await listen(control);
	closers.push(() => new Promise((resolve) => control.close(() => resolve())));

	project.provide('smtpPorts', JSON.stringify(ports));
	return async () => {
		await Promise.all(closers.map((close) => close()));
	};
}
