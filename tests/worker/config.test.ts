/**
 * Config and secrets read once (issue 20): worker/config.ts parses the Worker's settings by one
 * schema, and worker/crypto/sealer.ts is the one sealing path with typed purposes. The sealer's
 * labels must open what the code before it sealed (values already stored in D1), and a value
 * that no longer opens is one `config` outcome, never an exception.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../worker/config';
import { createSealer, type SealPurpose, type SealSubject } from '../../worker/crypto/sealer';
import { encryptSecret } from '../../worker/crypto/secret-box';

const KEY = env.SMTP_ENCRYPTION_KEY ?? '';
const OTHER_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
const smtp = { host: 'Smtp.Example.COM.', port: 587, username: 'support@example.com', encryption: 'starttls' as const };

describe('readConfig', () => {
	it('parses flags, numbers and lists once per Env, with the documented defaults', () => {
		const settings = {
			ALLOW_PRIVATE_SMTP_HOSTS: 'true',
			ALLOW_PRIVATE_WEBHOOK_HOSTS: 'yes',
			OUTBOUND_MESSAGES_PER_SESSION: '3',
			TRUSTED_ARC_SEALERS: ' Forwarder.Example , ,lists.example ',
			DNS_RESOLVER_URL: '',
			ACCESS_TEAM_DOMAIN: 'acme.cloudflareaccess.com',
			ACCESS_AUD: ''
		};
		const config = readConfig(settings);
		expect(config.allowPrivateSmtpHosts).toBe(true);
		// Only exactly "true" turns a flag on, as before.
		expect(config.allowPrivateWebhookHosts).toBe(false);
		expect(config.outboundMessagesPerSession).toBe(3);
		expect(config.trustedArcSealers).toEqual(['forwarder.example', 'lists.example']);
		expect(config.dnsResolverUrl).toBe('https://cloudflare-dns.com/dns-query');
		// Access needs both settings.
		expect(config.access).toBeNull();
		expect(readConfig(settings)).toBe(config);
		for (const value of ['0', '-2', '1.5', 'many', '']) {
			expect(readConfig({ OUTBOUND_MESSAGES_PER_SESSION: value }).outboundMessagesPerSession, value).toBeNull();
		}
	});

	it('reads the test Worker\'s own Env without touching its bindings', () => {
		const config = readConfig(env as unknown as Record<string, string>);
		expect(config.allowPrivateSmtpHosts).toBe(true);
		expect(config.trustedArcSealers).toEqual(['forwarder.trusted.test']);
		expect(config.dnsResolverUrl).toBe(env.DNS_RESOLVER_URL);
	});
});

describe('sealer', () => {
	// The labels the code before the sealer wrote (smtp/credentials.ts, oauth/tokens.ts, webhooks/secret.ts, api/smtp-tests.ts).
	const before: Array<[SealPurpose, SealSubject<SealPurpose>, string]> = [
		['smtp-password', { mailboxId: 'mbx_1', smtp }, `mailbox:mbx_1:smtp-password:${JSON.stringify(['smtp.example.com', 587, 'support@example.com', 'starttls'])}`],
		['smtp-password-legacy', { mailboxId: 'mbx_1' }, 'mailbox:mbx_1'],
		['oauth-refresh', { mailboxId: 'mbx_1' }, 'mailbox:mbx_1:oauth-refresh'],
		['oauth-access', { mailboxId: 'mbx_1' }, 'mailbox:mbx_1:oauth-access'],
		['oauth-verifier', { mailboxId: 'mbx_1' }, 'mailbox:mbx_1:oauth-verifier'],
		['webhook-secret', { integrationId: 'int_1' }, 'integration:int_1:webhook'],
		['smtp-test-receipt', { testId: 'tst_1' }, 'smtp-test-receipt:tst_1']
	];

	it.each(before)('opens a %s sealed under its old label, and nothing of another purpose', async (purpose, subject, label) => {
		const sealer = createSealer(KEY);
		const stored = await encryptSecret({ plain: `value of ${purpose}`, secret: KEY, boundTo: label });
		expect(await sealer.open(purpose, subject as never, stored)).toEqual({ ok: true, value: `value of ${purpose}` });
		for (const [other, otherSubject] of before) {
			if (other === purpose) continue;
			const opened = await sealer.open(other, otherSubject as never, stored);
			expect(opened.ok, `${purpose} opened as ${other}`).toBe(false);
		}
	});

	it('says what to enter again when a value no longer opens, never throws', async () => {
		const sealed = await createSealer(OTHER_KEY).seal('webhook-secret', { integrationId: 'int_1' }, 'whsec_x');
		const opened = await createSealer(KEY).open('webhook-secret', { integrationId: 'int_1' }, sealed);
		expect(opened).toMatchObject({ ok: false, lost: { category: 'config', purpose: 'webhook-secret', reason: 'undecryptable' } });
		expect(!opened.ok && opened.lost.hint).toMatch(/Rotate the integration's webhook secret/);
		const garbage = await createSealer(KEY).open('smtp-password', { mailboxId: 'mbx_1', smtp }, 'not a sealed value');
		expect(garbage).toMatchObject({ ok: false, lost: { reason: 'undecryptable' } });
		const noKey = await createSealer('').open('oauth-refresh', { mailboxId: 'mbx_1' }, sealed);
		expect(noKey).toMatchObject({ ok: false, lost: { reason: 'no_key' } });
		expect(!noKey.ok && noKey.lost.hint).toMatch(/SMTP_ENCRYPTION_KEY is not set.*Sign in again/);
		// A password is bound to its server: another port does not open it.
		const password = await createSealer(KEY).seal('smtp-password', { mailboxId: 'mbx_1', smtp }, 'pw');
		expect((await createSealer(KEY).open('smtp-password', { mailboxId: 'mbx_1', smtp: { ...smtp, port: 465 } }, password)).ok).toBe(false);
		expect(await createSealer(KEY).open('smtp-password', { mailboxId: 'mbx_1', smtp: { ...smtp, host: 'smtp.example.com' } }, password)).toEqual({ ok: true, value: 'pw' });
	});
});
