/**
 * Filling the email log the way production does: raw messages posted to `wrangler dev`'s email
 * endpoint reach the real `email()` handler, which authenticates them against the loopback DoH
 * server the global setup started (tests/worker/doh-server.ts). Each test file publishes its own
 * random zone, so files never see each other's DNS.
 */
/// <reference path="../../worker/libqp.d.ts" />
import { randomBytes, randomUUID } from 'node:crypto';
import libqp from 'libqp';
import { inject } from 'vitest';
import { baseUrl, callApi, seedIntegration } from './helpers';
import { PEER_ACCOUNT, PEER_PASSWORD, type ReceivedMail } from './smtp-peer';

const dohOrigin = inject('e2eDohOrigin');
const smtpPort = inject('e2eSmtpPort');
const smtpControl = inject('e2eSmtpControl');

/** The client IP of Cloudflare's MX hop in every delivered message; zones may permit it. */
export const SENDER_IP = '192.0.2.25';

/** A random zone under `.test`, with its DMARC-policy subdomains published:
 * `pass.Z` (SPF permits SENDER_IP, p=reject), `reject.Z` (SPF -all, p=reject),
 * `quarantine.Z` (SPF -all, p=quarantine), `none.Z` (SPF -all, p=none). */
export async function publishZone(): Promise<{ zone: string; pass: string; reject: string; quarantine: string; none: string }> {
	const zone = `z${randomBytes(4).toString('hex')}.test`;
	const txt = (value: string) => `"${value}"`;
	const domains = { pass: `pass.${zone}`, reject: `reject.${zone}`, quarantine: `quarantine.${zone}`, none: `none.${zone}` };
	await addDnsRecords([
		{ name: domains.pass, type: 'TXT', data: txt(`v=spf1 ip4:${SENDER_IP} -all`) },
		{ name: `_dmarc.${domains.pass}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
		{ name: domains.reject, type: 'TXT', data: txt('v=spf1 -all') },
		{ name: `_dmarc.${domains.reject}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
		{ name: domains.quarantine, type: 'TXT', data: txt('v=spf1 -all') },
		{ name: `_dmarc.${domains.quarantine}`, type: 'TXT', data: txt('v=DMARC1; p=quarantine') },
		{ name: domains.none, type: 'TXT', data: txt('v=spf1 -all') },
		{ name: `_dmarc.${domains.none}`, type: 'TXT', data: txt('v=DMARC1; p=none') }
	]);
	return { zone, ...domains };
}

/** Adds records to the DoH server; `data` in presentation format (TXT quoted). */
export async function addDnsRecords(records: Array<{ name: string; type: string; data: string }>): Promise<void> {
	const response = await fetch(`${dohOrigin}/zone`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ records })
	});
	if (!response.ok) throw new Error(`The DoH server refused the records: ${response.status}`);
}

/** A mailbox whose service address is unique to the calling test. */
export async function seedServiceMailbox(name = 'Support'): Promise<{ id: string; address: string }> {
	return seedMailboxSending(name, { host: 'smtp.helpdesk.example', port: 587, password: 'app-password', encryption: 'starttls' });
}

/**
 * A mailbox (unique service address) whose SMTP settings point at the tests' SMTP peer
 * (smtp-peer.ts): replies it sends arrive there, or, with another `password`, are refused at
 * login with the peer's 535.
 */
export async function seedPeerMailbox(name = 'Support', password = PEER_PASSWORD): Promise<{ id: string; address: string }> {
	return seedMailboxSending(name, { host: '127.0.0.1', port: smtpPort, username: PEER_ACCOUNT, password, encryption: 'none' });
}

async function seedMailboxSending(
	name: string,
	smtp: { host: string; port: number; username?: string; password: string; encryption: string }
): Promise<{ id: string; address: string }> {
	const integration = await seedIntegration();
	const address = `support-${randomBytes(4).toString('hex')}@helpdesk.example`;
	const created = await callApi('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name,
		address,
		smtp: { username: address, ...smtp }
	});
	if (created.status !== 201) throw new Error(`Creating the mailbox failed: ${JSON.stringify(created.body)}`);
	return { id: created.body.id, address };
}

/** Every message the SMTP peer accepted so far, oldest first. */
export async function receivedMail(): Promise<ReceivedMail[]> {
	const response = await fetch(`${smtpControl}/received`);
	if (!response.ok) throw new Error(`The SMTP peer's control endpoint answered ${response.status}`);
	return (await response.json()) as ReceivedMail[];
}

/** The messages the peer accepted with this (ASCII) subject. */
export async function receivedWithSubject(subject: string): Promise<ReceivedMail[]> {
	return (await receivedMail()).filter((mail) => headerOf(mail, 'Subject') === subject);
}

/** The text of a received single-part message, its transfer encoding (base64, quoted-printable or none) undone. */
export function bodyOf(mail: ReceivedMail): string {
	const [, ...rest] = mail.data.split(/\r?\n\r?\n/);
	const body = rest.join('\r\n\r\n');
	const encoding = headerOf(mail, 'Content-Transfer-Encoding')?.toLowerCase();
	if (encoding === 'base64') return Buffer.from(body, 'base64').toString('utf8');
	return encoding === 'quoted-printable' ? libqp.decode(body).toString('utf8') : body;
}

/** One header field of a received message, unfolded; undefined when absent. */
export function headerOf(mail: ReceivedMail, name: string): string | undefined {
	const head = mail.data.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
	return new RegExp(`^${name}:[ \t]*(.*)$`, 'im').exec(head)?.[1]?.trim();
}

export interface MailOptions {
	from: string;
	to: string;
	subject?: string;
	/** Without brackets; a random one by default. */
	messageId?: string;
	/** Full Content-Type of the single body part. */
	contentType?: string;
	/** The body as it goes on the wire (a string is sent as UTF-8, bytes as they are). */
	body?: string | Uint8Array;
	/** Extra header lines, CRLF-terminated, above From. */
	extraHeaders?: string;
	/** Envelope sender; the From address by default. */
	envelopeFrom?: string;
}

/** The raw message as Cloudflare's MX hands it over: its Received hop on top. */
export function rawMessage(options: MailOptions & { messageId: string }): Uint8Array<ArrayBuffer> {
	const head =
		`Received: from mail.sender.example (mail.sender.example [${SENDER_IP}]) by mx.cloudflare.net; Tue, 24 Nov 2026 09:00:01 +0000\r\n` +
		(options.extraHeaders ?? '') +
		`From: Customer <${options.from}>\r\nTo: ${options.to}\r\nSubject: ${options.subject ?? 'Where is my order?'}\r\n` +
		`Message-ID: <${options.messageId}>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n` +
		`Content-Type: ${options.contentType ?? 'text/plain; charset=utf-8'}\r\n\r\n`;
	const body = options.body ?? 'Hello, my order 1234 has not arrived.\r\n';
	const bodyBytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
	const headBytes = new TextEncoder().encode(head);
	const bytes = new Uint8Array(headBytes.byteLength + bodyBytes.byteLength);
	bytes.set(headBytes);
	bytes.set(bodyBytes, headBytes.byteLength);
	return bytes;
}

/**
 * Delivers through `POST /cdn-cgi/handler/email` and returns the Message-ID and the log row's id
 * (read back through the API). `rejection` is the handler's setReject reason, if any.
 */
export async function deliverMail(options: MailOptions): Promise<{ messageId: string; logId: string; rejection: string | null }> {
	const messageId = options.messageId ?? `${randomUUID()}@${options.from.split('@')[1]}`;
	const envelopeFrom = options.envelopeFrom ?? options.from;
	const url = `${baseUrl}/cdn-cgi/handler/email?from=${encodeURIComponent(envelopeFrom)}&to=${encodeURIComponent(options.to)}`;
	const response = await fetch(url, { method: 'POST', body: rawMessage({ ...options, messageId }) });
	const text = await response.text();
	if (response.status !== 200 && response.status !== 400) throw new Error(`Delivery failed: ${response.status} ${text}`);
	const log = await callApi('GET', `/api/messages?messageId=${encodeURIComponent(messageId)}`);
	const logId = log.body?.items?.[0]?.id;
	if (!logId) throw new Error(`No log row for ${messageId}: ${JSON.stringify(log.body)}`);
	return { messageId, logId, rejection: response.status === 400 ? text : null };
}
