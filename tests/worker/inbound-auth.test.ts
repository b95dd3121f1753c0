/**
 * Authentication cases of SPEC §5.2–5.4 through the real email() handler, with keys generated
 * here and DNS from the loopback DoH server: aligned DKIM (RSA and ed25519), SPF-only, a body
 * changed after signing, a native forward with DKIM intact, and a mailing list that breaks
 * DKIM but seals with ARC, from a trusted and an untrusted sealer.
 */
import crypto from 'node:crypto';
import { env } from 'cloudflare:test';
import { dkimSign, sealMessage } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { deliver as deliverMessage } from './deliver';
import { call, createIntegration, mailboxInput } from './helpers';

const ZONE = `a${crypto.randomBytes(4).toString('hex')}.test`;
const SENDER = `shop.${ZONE}`;
const SENDER_IP = '192.0.2.40';
const FORWARDER_IP = '198.51.100.7';
const TRUSTED_SEALER = 'forwarder.trusted.test'; // TRUSTED_ARC_SEALERS in vitest.worker.config.ts
const UNTRUSTED_SEALER = `lists.${ZONE}`;
let serviceAddress: string;

interface KeyPair {
	privateKey: string;
	record: string;
}

function makeKey(type: 'rsa' | 'ed25519'): KeyPair {
	const pair = type === 'rsa' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : crypto.generateKeyPairSync('ed25519');
	const der = pair.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
	// RFC 8463 §4.2: an ed25519 key record holds the bare 32-byte key.
	const p = (type === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
	return { privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, record: `v=DKIM1; k=${type}; p=${p}` };
}

const rsa = makeKey('rsa');
const ed = makeKey('ed25519');
const trustedSeal = makeKey('rsa');
const untrustedSeal = makeKey('rsa');

beforeAll(async () => {
	const txt = (value: string) => `"${value}"`;
	const response = await fetch(`${env.DOH_TEST_ORIGIN}/zone`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({
			records: [
				{ name: SENDER, type: 'TXT', data: txt(`v=spf1 ip4:${SENDER_IP} -all`) },
				{ name: `_dmarc.${SENDER}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
				{ name: `rsa._domainkey.${SENDER}`, type: 'TXT', data: txt(rsa.record) },
				{ name: `ed._domainkey.${SENDER}`, type: 'TXT', data: txt(ed.record) },
				{ name: `arc._domainkey.${TRUSTED_SEALER}`, type: 'TXT', data: txt(trustedSeal.record) },
				{ name: `arc._domainkey.${UNTRUSTED_SEALER}`, type: 'TXT', data: txt(untrustedSeal.record) }
			]
		})
	});
	expect(response.ok).toBe(true);
	const integration = await createIntegration();
	serviceAddress = `help-${crypto.randomBytes(3).toString('hex')}@desk.${ZONE}`;
	expect((await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address: serviceAddress }) })).status).toBe(201);
});

function original(options: { to?: string; subject?: string; body?: string } = {}) {
	return (
		`From: Alice <alice@${SENDER}>\r\nTo: ${options.to ?? serviceAddress}\r\nSubject: ${options.subject ?? 'Order 1234'}\r\n` +
		`Message-ID: <${crypto.randomUUID()}@${SENDER}>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n` +
		`Content-Type: text/plain; charset=utf-8\r\n\r\n${options.body ?? 'Where is my order?'}\r\n`
	);
}

async function sign(raw: string, key: KeyPair, selector: string) {
	const result = await dkimSign(raw, { signatureData: [{ signingDomain: SENDER, selector, privateKey: key.privateKey }] } as never);
	expect(result.errors).toEqual([]);
	return result.signatures + raw;
}

async function deliver(raw: string, options: { ip: string; from: string }) {
	const { rejected, item } = await deliverMessage(raw, { from: options.from, to: serviceAddress, hopIp: options.ip });
	const detail = await call('GET', `/api/messages/${item.id}`);
	return { rejected, message: detail.body };
}

describe('authentication through email()', () => {
	it('passes aligned DKIM (RSA) even when SPF fails', async () => {
		const { rejected, message } = await deliver(await sign(original(), rsa, 'rsa'), { ip: FORWARDER_IP, from: `alice@${SENDER}` });
		expect(rejected).toBeNull();
		expect(message.auth).toMatchObject({ spf: 'fail', dkim: 'pass', dmarc: 'pass' });
		expect(message.authDetails.dkim[0]).toMatchObject({ domain: SENDER, selector: 'rsa', result: 'pass', aligned: true });
	});

	it('passes aligned DKIM signed with ed25519', async () => {
		const { message } = await deliver(await sign(original(), ed, 'ed'), { ip: FORWARDER_IP, from: `alice@${SENDER}` });
		expect(message.auth).toMatchObject({ dkim: 'pass', dmarc: 'pass' });
	});

	it('passes on SPF alone (unsigned, from a permitted IP)', async () => {
		const { rejected, message } = await deliver(original(), { ip: SENDER_IP, from: `alice@${SENDER}` });
		expect(rejected).toBeNull();
		expect(message.auth).toMatchObject({ spf: 'pass', dkim: 'none', dmarc: 'pass' });
	});

	it('rejects a message whose body was changed after signing (p=reject)', async () => {
		const signed = await sign(original(), rsa, 'rsa');
		const { rejected, message } = await deliver(signed.replace('Where is my order?', 'Send the refund here instead.'), {
			ip: FORWARDER_IP,
			from: `alice@${SENDER}`
		});
		expect(rejected).toBe(`550 5.7.1 Unauthenticated email from ${SENDER} is not accepted due to domain's DMARC policy`);
		expect(message.auth.dkim).not.toBe('pass');
		expect(message.verdict).toBe('rejected');
	});

	it('accepts a native forward that kept DKIM intact, and says it was forwarded', async () => {
		// The customer wrote to an old address that forwards unchanged to the service address.
		const raw = await sign(original({ to: `orders@old.${ZONE}` }), rsa, 'rsa');
		const forwarded = `X-Forwarded-To: ${serviceAddress}\r\n` + raw;
		const srs = `SRS0=abcd=XY=${SENDER}=alice@old.${ZONE}`;
		const { rejected, message } = await deliver(forwarded, { ip: FORWARDER_IP, from: srs });
		expect(rejected).toBeNull();
		expect(message).toMatchObject({ verdict: 'accepted', forwarding: 'native', auth: { dkim: 'pass', dmarc: 'pass' } });
		expect(message.forwardingEvidence.join(' ')).toMatch(/SRS|forward/i);
	});

	describe('a mailing list that breaks DKIM and seals with ARC', () => {
		async function viaList(sealer: string, key: KeyPair) {
			const signed = await sign(original(), rsa, 'rsa');
			// The list tags the subject and adds a footer: the author's DKIM signature breaks.
			const modified = signed.replace('Subject: Order 1234', 'Subject: [support-list] Order 1234').replace('Where is my order?', 'Where is my order?\r\n-- \r\nSent via the support list');
			const seal = await sealMessage(modified, {
				signingDomain: sealer,
				selector: 'arc',
				privateKey: key.privateKey,
				authResults: `${sealer}; dkim=pass header.d=${SENDER}; spf=pass smtp.mailfrom=${SENDER}; dmarc=pass header.from=${SENDER}`,
				cv: 'none'
			} as never);
			expect(seal.length).toBeGreaterThan(0);
			return deliver(seal.toString() + modified, { ip: FORWARDER_IP, from: `bounces@${sealer}` });
		}

		it('is accepted when the sealer is trusted, and says why', async () => {
			const { rejected, message } = await viaList(TRUSTED_SEALER, trustedSeal);
			expect(rejected).toBeNull();
			expect(message.auth).toMatchObject({ dmarc: 'fail', arc: 'pass' });
			expect(message.auth.dkim).not.toBe('pass');
			expect(message.verdict).toBe('accepted');
			expect(message.reason).toMatch(/ARC chain sealed by forwarder\.trusted\.test/);
		});

		it('is rejected when the sealer is not trusted', async () => {
			const { rejected, message } = await viaList(UNTRUSTED_SEALER, untrustedSeal);
			expect(message.auth.arc).toBe('pass');
			expect(rejected).toMatch(/^550 5\.7\.1 Unauthenticated email from/);
		});
	});
});
