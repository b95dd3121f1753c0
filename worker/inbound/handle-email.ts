/**
 * The inbound path (SPEC §5): recipient, authentication, DMARC policy, forwarding, encoding,
 * storage. Every delivery that reaches a verdict is logged, refused ones included; the
 * handler throws when the log cannot be written, so Email Routing retries or bounces instead
 * of the message vanishing.
 */
import PostalMime from 'postal-mime';
import { findMailboxByAddress } from '../db/mailboxes';
import { insertMessage, type LoggedMessage } from '../db/messages';
import { createCachingResolver, createDohResolver, DEFAULT_DNS_RESOLVER_URL, toMailauthResolver } from '../dns/doh-resolver';
import { authenticateMessage, dkimSummary, type AuthVerdict } from './authenticate';
import { findCloudflareHop } from './cloudflare-hop';
import { diagnoseEncoding } from './encoding';
import { classifyForwarding, manualForwardRejectReason } from './forwarding';
import { applyDmarcPolicy, parseTrustedSealers } from './policy';
import { sanitizeHtml } from './sanitize-html';

/** Email Routing delivers messages up to 25 MiB. */
export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
/**
 * D1 limits a row, string or BLOB to 1,000,000 bytes in production. Text and HTML are kept up
 * to these sizes each (UTF-8 can take up to 3 bytes a UTF-16 unit), the header block likewise.
 */
export const MAX_STORED_TEXT_CHARS = 100_000;
export const MAX_STORED_HTML_CHARS = 150_000;
export const MAX_STORED_HEADER_CHARS = 64_000;
/** Shown as the receiving host in authentication comments. */
const MTA = 'mailgate';

export interface InboundMessage {
	from: string;
	to: string;
	raw: ReadableStream<Uint8Array>;
	rawSize: number;
	setReject(reason: string): void | Promise<void>;
}

export interface InboundDependencies {
	now?: () => Date;
}

export async function handleInbound(message: InboundMessage, env: Env, deps: InboundDependencies = {}): Promise<LoggedMessage | null> {
	const now = deps.now ?? (() => new Date());
	const receivedAt = now().toISOString();
	if (message.rawSize > MAX_MESSAGE_BYTES) {
		// Email Routing never delivers more; refusing without reading keeps the Worker in its memory limit.
		await message.setReject(`552 5.3.4 Message too big for this help desk (over ${MAX_MESSAGE_BYTES / 1024 / 1024} MiB)`);
		return null;
	}
	const raw = new Uint8Array(await new Response(message.raw).arrayBuffer());
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	const headers = parsed.headers.map((header) => ({ key: header.key, value: header.value }));
	const headerBlock = extractHeaderBlock(raw);
	const envelopeTo = message.to.trim();

	const base = {
		id: crypto.randomUUID(),
		messageId: normaliseMessageId(parsed.messageId),
		envelope: { from: message.from, to: envelopeTo },
		from: { address: parsed.from?.address ?? null, name: parsed.from?.name || null },
		subject: parsed.subject ?? null,
		receivedAt,
		size: raw.byteLength,
		headers: headerBlock.slice(0, MAX_STORED_HEADER_CHARS)
	};
	const encoding = diagnoseEncoding({ raw, parsed });

	// SPEC §5.1: only configured service addresses, never aliases of them.
	const localPart = envelopeTo.split('@')[0] ?? '';
	const mailbox = localPart.includes('+') ? null : await findMailboxByAddress(env.DB, envelopeTo);
	if (!mailbox) {
		const reason = localPart.includes('+')
			? `550 5.1.1 <${envelopeTo}>: aliases (sub-addresses) are not supported; write to the service address itself`
			: `550 5.1.1 <${envelopeTo}>: this address is not a service address of this help desk`;
		return refuse(message, env, {
			...base,
			mailboxId: null,
			reason,
			auth: notChecked(),
			forwarding: { class: 'none', evidence: [] },
			encoding
		});
	}

	const resolver = createCachingResolver(createDohResolver({ url: env.DNS_RESOLVER_URL || DEFAULT_DNS_RESOLVER_URL }));
	const auth = await authenticateMessage({
		raw,
		envelopeFrom: message.from,
		hop: findCloudflareHop(headers),
		resolver: toMailauthResolver(resolver),
		mta: MTA
	});
	const policy = applyDmarcPolicy(auth, parseTrustedSealers(env.TRUSTED_ARC_SEALERS));
	const forwarding = classifyForwarding({
		envelopeFrom: message.from,
		envelopeTo,
		headers,
		parsed,
		serviceAddresses: [mailbox.address]
	});

	let verdict = policy.verdict;
	let reason = policy.reason;
	if (verdict !== 'rejected' && forwarding.class === 'manual' && mailbox.manualForward === 'reject') {
		verdict = 'rejected';
		reason = manualForwardRejectReason();
	}
	const row = { ...base, mailboxId: mailbox.id, auth, forwarding, encoding };
	if (verdict === 'rejected') return refuse(message, env, { ...row, reason: reason ?? 'refused' });

	const logged: LoggedMessage = {
		...toRow(row),
		verdict,
		reason,
		text: parsed.text ? parsed.text.slice(0, MAX_STORED_TEXT_CHARS) : null,
		html: parsed.html ? (await sanitizeHtml(parsed.html)).slice(0, MAX_STORED_HTML_CHARS) : null,
		attachments: parsed.attachments.map((attachment) => ({
			filename: attachment.filename,
			contentType: attachment.mimeType,
			size: sizeOf(attachment.content)
		}))
	};
	await insertMessage(env.DB, logged);
	return logged;
}

type RowInput = Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'html' | 'attachments' | 'auth' | 'authDetails' | 'forwarding' | 'forwardingEvidence' | 'encoding'> & {
	auth: AuthVerdict;
	forwarding: { class: LoggedMessage['forwarding']; evidence: string[] };
	encoding: LoggedMessage['encoding'];
};

function toRow(input: RowInput): Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'html' | 'attachments'> {
	const { auth, forwarding, encoding, ...rest } = input;
	return {
		...rest,
		auth: { spf: auth.spf.result, dkim: dkimSummary(auth.dkim), dmarc: auth.dmarc.result, arc: auth.arc.result },
		authDetails: auth,
		forwarding: forwarding.class,
		forwardingEvidence: forwarding.evidence,
		encoding
	};
}

/**
 * Refuses the delivery and logs it. If the log write fails the handler still throws, so the
 * failure is visible; the refusal stands either way. (setReject is awaited because wrangler
 * dev's simulation records the reason asynchronously; on Cloudflare it returns nothing.)
 */
async function refuse(message: InboundMessage, env: Env, input: RowInput & { reason: string }): Promise<LoggedMessage> {
	const { reason, ...row } = input;
	const logged: LoggedMessage = { ...toRow(row), verdict: 'rejected', reason, text: null, html: null, attachments: [] };
	await message.setReject(reason);
	await insertMessage(env.DB, logged);
	return logged;
}

function notChecked(): AuthVerdict {
	const comment = 'not checked: the recipient is not a service address';
	return {
		spf: { result: 'none', domain: null, clientIp: null, helo: null, comment },
		dkim: [],
		dmarc: { result: 'none', domain: null, policy: null, spfAligned: false, dkimAligned: false, comment },
		arc: { result: 'none', sealer: null, instance: 0, comment }
	};
}

/** RFC 5322 §3.6.4: the id without its angle brackets, as admins paste it either way. */
export function normaliseMessageId(value: string | undefined | null): string | null {
	const trimmed = (value ?? '').trim().replace(/^<|>$/g, '').trim();
	return trimmed || null;
}

/** The header section as delivered: everything before the first empty line (RFC 5322 §2.1). */
export function extractHeaderBlock(raw: Uint8Array): string {
	let end = raw.byteLength;
	for (let i = 0; i + 1 < raw.byteLength; i++) {
		if (raw[i] === 0x0a && raw[i + 1] === 0x0a) {
			end = i + 1;
			break;
		}
		if (raw[i] === 0x0d && raw[i + 1] === 0x0a && raw[i + 2] === 0x0d && raw[i + 3] === 0x0a) {
			end = i + 2;
			break;
		}
	}
	return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(raw.subarray(0, end));
}

function sizeOf(content: ArrayBuffer | Uint8Array | string): number {
	return typeof content === 'string' ? new TextEncoder().encode(content).byteLength : content.byteLength;
}
