/**
 * The mail flow check (SPEC §13) inside workerd: each DNS finding against records published on
 * the loopback DoH server (good, missing and wrong), and the round trip through the real API,
 * the real SMTP path to a real smtp-server on loopback, and the real email() handler: the
 * probe recognised by its token only (and only while its check lasts), arrival, a send refused,
 * the timeout and a late probe (the clock injected, never waited for).
 */
import crypto from 'node:crypto';
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import { handleApi } from '../../worker/api/router';
import { CHECKS_PER_MAILBOX } from '../../worker/api/flow';
import { createCachingResolver, createDohResolver } from '../../worker/dns/doh-resolver';
import { checkDkim, checkDmarc, checkDns, checkMx, checkSpf } from '../../worker/flow/dns-checks';
import { PROBE_LATE_GRACE_MS } from '../../worker/flow/recognise';
import { handleInbound } from '../../worker/inbound/handle-email';
import worker from '../../worker/index';
import { cloudflareHop, deliver } from './deliver';
import { call, createIntegration, mailboxInput, ORIGIN, TOKEN, unique } from './helpers';
import { servicesFrom } from '../../worker/services';

const ZONE = `f${crypto.randomBytes(4).toString('hex')}.test`;
const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const USER = 'support@acme.test';
const PASSWORD = 'Corr3ct-h0rse-battery';
/** The probe reaches email() through "Cloudflare's MX" from this address (the hop deliver() adds). */
const RELAY_IP = '192.0.2.77';
const CLOUDFLARE_MX = ['route1.mx.cloudflare.net', 'route2.mx.cloudflare.net', 'route3.mx.cloudflare.net'];

vi.setConfig({ testTimeout: 20_000 });

let counter = 0;
/** A fresh domain under this file's zone, with the records given (owner names relative to it, '' for the domain itself). */
async function domainWith(records: Array<[name: string, type: string, data: string]>): Promise<string> {
	const domain = `d${++counter}.${ZONE}`;
	const full = records.map(([name, type, data]) => ({ name: name ? `${name}.${domain}` : domain, type, data }));
	// Every test domain exists (an A record), so a missing record is NODATA, as on real domains.
	full.push({ name: domain, type: 'A', data: '192.0.2.1' });
	const response = await fetch(`${env.DOH_TEST_ORIGIN}/zone`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ records: full })
	});
	expect(response.ok).toBe(true);
	return domain;
}

const txt = (value: string) => `"${value}"`;
const cloudflareMx = (): Array<[string, string, string]> => CLOUDFLARE_MX.map((host, index) => ['', 'MX', `${10 * (index + 1)} ${host}.`]);
/** A domain set up right for a help desk sending from RELAY_IP: MX at Cloudflare, SPF, DMARC p=reject. */
const goodDomain = () =>
	domainWith([...cloudflareMx(), ['', 'TXT', txt(`v=spf1 ip4:${RELAY_IP} ip4:127.0.0.1 -all`)], ['_dmarc', 'TXT', txt('v=DMARC1; p=reject; rua=mailto:dmarc@example.org')]]);

const resolver = () => createCachingResolver(createDohResolver({ url: env.DNS_RESOLVER_URL }));

describe('DNS findings', () => {
	it('a domain set up right: MX at Cloudflare, SPF allowing the server, DMARC p=reject; DKIM unknown for an unknown provider', async () => {
		const domain = await goodDomain();
		const dns = await checkDns({ domain, smtpHost: '127.0.0.1', resolver: resolver() });
		expect(dns.mx).toMatchObject({ result: 'ok', found: ['10 route1.mx.cloudflare.net', '20 route2.mx.cloudflare.net', '30 route3.mx.cloudflare.net'] });
		expect(dns.spf.result).toBe('ok');
		expect(dns.spf.found).toContain('127.0.0.1: pass');
		expect(dns.dmarc.result).toBe('ok');
		expect(dns.dmarc.says).toContain('p=reject');
		expect(dns.dmarc.says).toContain('mailto:dmarc@example.org');
		expect(dns.dkim.result).toBe('unknown');
		for (const part of Object.values(dns)) expect(part.says.length).toBeGreaterThan(20);
	});

	describe('MX', () => {
		it('elsewhere: fails and names the hosts that take the mail', async () => {
			const domain = await domainWith([['', 'MX', '10 mx1.elsewhere.example.'], ['', 'MX', '20 mx2.elsewhere.example.']]);
			const mx = await checkMx({ domain, resolver: resolver() });
			expect(mx.result).toBe('fail');
			expect(mx.found).toEqual(['10 mx1.elsewhere.example', '20 mx2.elsewhere.example']);
			expect(mx.says).toContain('mx1.elsewhere.example, mx2.elsewhere.example');
		});

		it('missing: fails and says to enable Email Routing', async () => {
			const mx = await checkMx({ domain: await domainWith([]), resolver: resolver() });
			expect(mx).toMatchObject({ result: 'fail', found: [] });
			expect(mx.says).toContain('no MX records');
		});

		it('another host with a better preference than Cloudflare fails; a backup warns; a missing Cloudflare host warns', async () => {
			const before = await domainWith([['', 'MX', '5 mx.other.example.'], ...cloudflareMx()]);
			expect((await checkMx({ domain: before, resolver: resolver() })).result).toBe('fail');
			const backup = await domainWith([...cloudflareMx(), ['', 'MX', '90 backup.other.example.']]);
			const warned = await checkMx({ domain: backup, resolver: resolver() });
			expect(warned.result).toBe('warn');
			expect(warned.says).toContain('backup.other.example');
			const partial = await domainWith([['', 'MX', '10 route1.mx.cloudflare.net.']]);
			const missing = await checkMx({ domain: partial, resolver: resolver() });
			expect(missing.result).toBe('warn');
			expect(missing.says).toContain('route2.mx.cloudflare.net and route3.mx.cloudflare.net');
		});

		it('a DNS failure is unknown, never ok', async () => {
			const mx = await checkMx({ domain: `servfail.${ZONE}`, resolver: resolver() });
			expect(mx.result).toBe('unknown');
			expect(mx.says).toContain('ESERVFAIL');
		});
	});

	describe('SPF', () => {
		it('Microsoft 365: ok with its include (also nested), fails without it', async () => {
			const nested = await domainWith([['', 'TXT', txt('v=spf1 include:_spf.acme.example -all')]]);
			await fetch(`${env.DOH_TEST_ORIGIN}/zone`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ records: [{ name: '_spf.acme.example', type: 'TXT', data: txt('v=spf1 include:spf.protection.outlook.com ~all') }] })
			});
			const ok = await checkSpf({ domain: nested, smtpHost: 'smtp.office365.com', resolver: resolver() });
			expect(ok.result).toBe('ok');
			expect(ok.says).toContain('Microsoft 365');
			const without = await domainWith([['', 'TXT', txt('v=spf1 include:_spf.google.com -all')]]);
			const failed = await checkSpf({ domain: without, smtpHost: 'smtp.office365.com', resolver: resolver() });
			expect(failed.result).toBe('fail');
			expect(failed.says).toContain('include:spf.protection.outlook.com');
			const google = await checkSpf({ domain: without, smtpHost: 'smtp.gmail.com', resolver: resolver() });
			expect(google.result).toBe('ok');
		});

		it('another server: evaluated with mailauth against its address; a record that does not allow it fails', async () => {
			const domain = await domainWith([['', 'TXT', txt('v=spf1 ip4:192.0.2.1 -all')]]);
			const spf = await checkSpf({ domain, smtpHost: '127.0.0.1', resolver: resolver() });
			expect(spf.result).toBe('fail');
			expect(spf.found).toContain('127.0.0.1: fail');
			expect(spf.says).toContain('ip4:127.0.0.1');
			// A host name is resolved over DoH first.
			const named = await domainWith([['', 'TXT', txt('v=spf1 a:smtp.%{d} ~all')], ['smtp', 'A', '198.51.100.9']]);
			const byName = await checkSpf({ domain: named, smtpHost: `smtp.${named}`, resolver: resolver() });
			expect(byName.result).toBe('ok');
			expect(byName.found).toContain('198.51.100.9: pass');
		});

		it('+all fails: it lets anyone send', async () => {
			const domain = await domainWith([['', 'TXT', txt('v=spf1 ip4:127.0.0.1 +all')]]);
			const spf = await checkSpf({ domain, smtpHost: '127.0.0.1', resolver: resolver() });
			expect(spf.result).toBe('fail');
			expect(spf.says).toContain('+all');
		});

		it('two SPF records fail (RFC 7208 §4.5), and none fails', async () => {
			const two = await domainWith([['', 'TXT', txt('v=spf1 ip4:127.0.0.1 -all')], ['', 'TXT', txt('v=spf1 include:_spf.google.com -all')], ['', 'TXT', txt('google-site-verification=abc')]]);
			const spf = await checkSpf({ domain: two, smtpHost: '127.0.0.1', resolver: resolver() });
			expect(spf.result).toBe('fail');
			expect(spf.found).toHaveLength(2);
			expect(spf.says).toContain('2 SPF records');
			const none = await checkSpf({ domain: await domainWith([['', 'TXT', txt('hello')]]), smtpHost: 'smtp.office365.com', resolver: resolver() });
			expect(none.result).toBe('fail');
			expect(none.says).toContain('"v=spf1 include:spf.protection.outlook.com -all"');
		});

		it('over 10 DNS lookups fails, counting through includes (RFC 7208 §4.6.4); 10 is within', async () => {
			const inner = await domainWith([['', 'TXT', txt('v=spf1 a mx exists:x.example a:y.example -all')]]);
			const terms = (count: number) => Array.from({ length: count }, (_, i) => `a:h${i}.example`).join(' ');
			// 1 include + 4 inside it + 6 here = 11.
			const over = await domainWith([['', 'TXT', txt(`v=spf1 include:${inner} ${terms(6)} ip4:127.0.0.1 -all`)]]);
			const spf = await checkSpf({ domain: over, smtpHost: '127.0.0.1', resolver: resolver() });
			expect(spf.result).toBe('fail');
			expect(spf.found).toContain('11 DNS lookups');
			const within = await domainWith([['', 'TXT', txt(`v=spf1 ip4:127.0.0.1 include:${inner} ${terms(5)} -all`)]]);
			const ok = await checkSpf({ domain: within, smtpHost: '127.0.0.1', resolver: resolver() });
			expect(ok.result).toBe('ok');
			expect(ok.found).toContain('10 of 10 DNS lookups');
		});
	});

	describe('DMARC', () => {
		it('missing warns; p=none warns; p=quarantine is ok; no rua is said', async () => {
			const missing = await checkDmarc({ domain: await domainWith([]), resolver: resolver() });
			expect(missing).toMatchObject({ result: 'warn', found: [] });
			expect(missing.says).toContain('no DMARC record');
			const none = await checkDmarc({ domain: await domainWith([['_dmarc', 'TXT', txt('v=DMARC1; p=none; rua=mailto:r@example.org')]]), resolver: resolver() });
			expect(none.result).toBe('warn');
			expect(none.says).toContain('p=none');
			const quarantine = await checkDmarc({ domain: await domainWith([['_dmarc', 'TXT', txt('v=DMARC1; p=quarantine')]]), resolver: resolver() });
			expect(quarantine.result).toBe('ok');
			expect(quarantine.says).toContain('asks for no reports');
		});

		it('a subdomain without its own record inherits the parent domain\'s (sp= first)', async () => {
			const parent = await domainWith([['_dmarc', 'TXT', txt('v=DMARC1; p=reject; sp=none')]]);
			const dmarc = await checkDmarc({ domain: `support.${parent}`, resolver: resolver() });
			expect(dmarc.result).toBe('warn');
			expect(dmarc.found).toEqual([`_dmarc.${parent}: v=DMARC1; p=reject; sp=none`]);
			expect(dmarc.says).toContain(`inherited from ${parent}`);
		});
	});

	describe('DKIM', () => {
		it('Microsoft 365: both selectors (CNAMEs to the tenant) ok, one warns, none fails; Google: its selector; others unknown', async () => {
			const key = 'v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC';
			const tenant = await domainWith([['selector1-x._domainkey', 'TXT', txt(key)], ['selector2-x._domainkey', 'TXT', txt(key)]]);
			const both = await domainWith([['selector1._domainkey', 'CNAME', `selector1-x._domainkey.${tenant}.`], ['selector2._domainkey', 'CNAME', `selector2-x._domainkey.${tenant}.`]]);
			expect((await checkDkim({ domain: both, smtpHost: 'smtp.office365.com', resolver: resolver() })).result).toBe('ok');
			const one = await domainWith([['selector1._domainkey', 'TXT', txt(key)]]);
			const warned = await checkDkim({ domain: one, smtpHost: 'smtp.office365.com', resolver: resolver() });
			expect(warned.result).toBe('warn');
			expect(warned.says).toContain(`selector2._domainkey.${one}`);
			const none = await checkDkim({ domain: await domainWith([]), smtpHost: 'SMTP.Office365.com', resolver: resolver() });
			expect(none.result).toBe('fail');
			expect(none.says).toContain('Microsoft Defender portal');
			const google = await domainWith([['google._domainkey', 'TXT', txt(key)]]);
			expect((await checkDkim({ domain: google, smtpHost: 'smtp.gmail.com', resolver: resolver() })).result).toBe('ok');
			expect((await checkDkim({ domain: google, smtpHost: 'mail.example.net', resolver: resolver() })).result).toBe('unknown');
		});
	});
});

// ---- The round trip ----

interface Received {
	server: string;
	to: string[];
	data: string;
}

async function probeMailbox(domain: string, server = 'outbound', password = PASSWORD, username = USER) {
	const integration = await createIntegration();
	const answer = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, {
			name: 'Acme Support',
			address: `${unique('support')}@${domain}`,
			smtp: { host: '127.0.0.1', port: ports[server], username, password, encryption: 'none' }
		})
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string };
}

const readCheck = async (mailboxId: string, id: string) => (await call<FlowCheck>('GET', `/api/mailboxes/${mailboxId}/flow-checks/${id}`)).body;

async function waitFor(mailboxId: string, id: string, done: (check: FlowCheck) => boolean): Promise<FlowCheck> {
	for (let i = 0; i < 100; i++) {
		const check = await readCheck(mailboxId, id);
		if (done(check)) return check;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`check ${id} never got there: ${JSON.stringify(await readCheck(mailboxId, id))}`);
}

/** The probe as the mailbox's SMTP server received it. */
async function receivedProbe(messageId: string): Promise<Received> {
	for (let i = 0; i < 50; i++) {
		const all = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Received[];
		const probe = all.find((mail) => mail.data.includes(`<${messageId}>`));
		if (probe) return probe;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`the SMTP server never received ${messageId}`);
}

const tokenOf = (probe: Received) => /^X-Mailgate-Probe: *(\S+)/im.exec(probe.data)?.[1] ?? '';

async function startCheck(mailboxId: string): Promise<FlowCheck> {
	const answer = await call<FlowCheck>('POST', `/api/mailboxes/${mailboxId}/flow-check`);
	expect(answer.status, answer.text).toBe(202);
	expect(answer.headers.get('location')).toBe(`/api/mailboxes/${mailboxId}/flow-checks/${answer.body.id}`);
	return answer.body;
}

/** A check started, its DNS in and its probe accepted by the SMTP server: the probe and its token. */
async function sentCheck(mailbox: { id: string }) {
	const started = await startCheck(mailbox.id);
	const waiting = await waitFor(mailbox.id, started.id, (check) => check.dns !== null && check.roundTrip.step !== 'sending');
	const probe = await receivedProbe(started.roundTrip.messageId);
	return { started, waiting, probe, token: tokenOf(probe) };
}

describe('the round trip', () => {
	it('starts with 202 and sends a probe through the mailbox’s SMTP server; email() recognises it by its token, logs it as a probe and ends the check', async () => {
		const domain = await goodDomain();
		const mailbox = await probeMailbox(domain);
		const started = await startCheck(mailbox.id);
		expect(started).toMatchObject({ status: 'running', result: 'running', dns: null, finishedAt: null });
		expect(started.roundTrip).toMatchObject({ result: 'running', step: 'sending', to: mailbox.address });
		expect(Date.parse(started.expiresAt) - Date.parse(started.startedAt)).toBe(120_000);

		const waiting = await waitFor(mailbox.id, started.id, (check) => check.dns !== null && check.roundTrip.step !== 'sending');
		expect(waiting.status).toBe('running');
		expect(waiting.roundTrip).toMatchObject({ step: 'waiting', smtp: { ok: true, code: 250 } });
		expect(waiting.dns!.mx.result).toBe('ok');

		const probe = await receivedProbe(started.roundTrip.messageId);
		expect(probe.to).toEqual([mailbox.address]);
		expect(probe.data).toContain(`From: "Acme Support" <${mailbox.address}>`);
		expect(probe.data).toMatch(/^Auto-Submitted: auto-generated/im);
		const token = tokenOf(probe);
		expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		// Only the token's hash is kept.
		const stored = await env.DB.prepare('SELECT probe_token_hash FROM flow_checks WHERE id = ?1').bind(started.id).first<{ probe_token_hash: string }>();
		expect(stored!.probe_token_hash).toMatch(/^[0-9a-f]{64}$/);
		expect(JSON.stringify(await env.DB.prepare('SELECT * FROM flow_checks WHERE id = ?1').bind(started.id).first())).not.toContain(token);

		const { rejected, item } = await deliver(probe.data, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(rejected).toBeNull();
		expect(item).toMatchObject({ kind: 'probe', verdict: 'accepted', auth: { spf: 'pass', dmarc: 'pass', dkim: 'none' } });
		// Never handed to the help desk: no webhook event for it.
		const events = await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_events WHERE subject_id = ?1').bind(item.id).first<{ n: number }>();
		expect(events!.n).toBe(0);

		const done = await readCheck(mailbox.id, started.id);
		expect(done).toMatchObject({ status: 'done', result: 'ok' });
		expect(done.finishedAt).not.toBeNull();
		expect(done.roundTrip).toMatchObject({ result: 'ok', step: 'arrived', auth: { spf: 'pass', dkim: 'none', dmarc: 'pass' }, logId: item.id });
		expect(done.roundTrip.durationMs).toBeGreaterThan(0);
		expect(done.roundTrip.says).toContain('DMARC passes on SPF alone');

		// The latest check is shown with the mailbox, in the list and on its own.
		const summary = { id: started.id, status: 'done', result: 'ok', startedAt: started.startedAt, finishedAt: done.finishedAt };
		expect((await call('GET', `/api/mailboxes/${mailbox.id}`)).body.lastFlowCheck).toEqual(summary);
		const listed = (await call('GET', '/api/mailboxes')).body.items.find((m: { id: string }) => m.id === mailbox.id);
		expect(listed.lastFlowCheck).toEqual(summary);

		// A redelivered probe changes nothing.
		await deliver(probe.data, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(await readCheck(mailbox.id, started.id)).toEqual(done);
	});

	it('is recognised only with its token: another token, a token of another mailbox or none is ordinary mail', async () => {
		const domain = await goodDomain();
		const mailbox = await probeMailbox(domain);
		const other = await probeMailbox(domain);
		const { started, probe, token } = await sentCheck(mailbox);
		const otherSent = await sentCheck(other);

		const forged = probe.data.replace(token, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`).replace(started.roundTrip.messageId, `forged-${started.roundTrip.messageId}`);
		const wrong = await deliver(forged, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(wrong.item.kind).toBe('message');
		// The other mailbox's genuine probe, delivered here.
		const crossed = await deliver(otherSent.probe.data, { from: other.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(crossed.item.kind).toBe('message');
		expect((await readCheck(mailbox.id, started.id)).roundTrip.step).toBe('waiting');
		expect((await readCheck(other.id, otherSent.started.id)).roundTrip.step).toBe('waiting');
		// The real one still counts.
		await deliver(probe.data, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect((await readCheck(mailbox.id, started.id)).roundTrip.step).toBe('arrived');
	});

	it('a probe that fails DMARC is logged (never refused) and the round trip fails with what it means for replies', async () => {
		// SPF allows only another address, p=reject: the probe from RELAY_IP fails DMARC.
		const domain = await domainWith([...cloudflareMx(), ['', 'TXT', txt('v=spf1 ip4:127.0.0.1 -all')], ['_dmarc', 'TXT', txt('v=DMARC1; p=reject')]]);
		const mailbox = await probeMailbox(domain);
		const { started, probe } = await sentCheck(mailbox);
		const { rejected, item } = await deliver(probe.data, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(rejected).toBeNull();
		expect(item).toMatchObject({ kind: 'probe', verdict: 'quarantined', auth: { spf: 'fail', dmarc: 'fail' } });
		const done = await readCheck(mailbox.id, started.id);
		expect(done).toMatchObject({ status: 'done', result: 'fail', roundTrip: { result: 'fail', step: 'arrived' } });
		expect(done.roundTrip.says).toContain('DMARC fails (SPF fail, DKIM none)');
	});

	it('a send the SMTP server refuses ends the round trip with the server’s words and the hint', async () => {
		const mailbox = await probeMailbox(await goodDomain(), 'plain', 'not-the-password');
		const started = await startCheck(mailbox.id);
		const done = await waitFor(mailbox.id, started.id, (check) => check.status === 'done');
		expect(done.result).toBe('fail');
		expect(done.roundTrip).toMatchObject({ result: 'fail', step: 'send_failed', smtp: { ok: false, stage: 'auth', category: 'auth', code: 535 } });
		expect(done.roundTrip.says).toContain('5.7.8 Username and Password not accepted');
		expect(JSON.stringify(done)).not.toContain('not-the-password');
	});

	it('a provider\'s limit answer to the probe pauses the mailbox with the words, as a reply\'s does (SPEC §15)', async () => {
		// The scripted peer answers this account's first MAIL FROM with Microsoft 365's rate answer.
		const account = `${unique('desk')}@acme.test`;
		const text = '4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)';
		await fetch(`http://127.0.0.1:${ports.control}/scripted/${encodeURIComponent(account)}`, { method: 'PUT', body: JSON.stringify([{ at: 'mail', code: 451, text }]) });
		const mailbox = await probeMailbox(await goodDomain(), 'scripted', PASSWORD, account);
		const started = await startCheck(mailbox.id);
		const done = await waitFor(mailbox.id, started.id, (check) => check.status === 'done');
		expect(done.roundTrip).toMatchObject({ step: 'send_failed', smtp: { ok: false, code: 451, limit: { kind: 'rate' } } });
		const paused = (await call<{ smtp: { pausedUntil: string | null; pauseReason: string | null } }>('GET', `/api/mailboxes/${mailbox.id}`)).body;
		expect(Date.parse(paused.smtp.pausedUntil!)).toBeGreaterThan(Date.now());
		expect(paused.smtp.pauseReason).toContain(text);
	});

	it('no arrival in 120 seconds: the sweep closes it as failed with the likely causes, naming the MX when it is elsewhere', async () => {
		const routed = await probeMailbox(await goodDomain());
		const { started } = await sentCheck(routed);
		// The clock is injected: the 5-minute cron runs "121 seconds later".
		await worker.scheduled({ cron: '*/5 * * * *', scheduledTime: Date.parse(started.startedAt) + 121_000, noRetry() {} } as ScheduledController, env);
		const closed = await readCheck(routed.id, started.id);
		expect(closed).toMatchObject({ status: 'done', result: 'fail', finishedAt: started.expiresAt, roundTrip: { result: 'fail', step: 'timed_out' } });
		expect(closed.roundTrip.says).toContain('did not reach Mailgate within 120 seconds');
		expect(closed.roundTrip.says).toContain(`sending ${routed.address} to the Worker`);

		const elsewhere = await domainWith([['', 'MX', '10 mx.elsewhere.example.'], ['', 'TXT', txt('v=spf1 ip4:127.0.0.1 -all')]]);
		const lost = await probeMailbox(elsewhere);
		const sent = await sentCheck(lost);
		// On read: a GET after the deadline closes it too.
		const later = () => new Date(Date.parse(sent.started.expiresAt) + 1_000);
		const response = await handleApi(
			new Request(`${ORIGIN}/api/mailboxes/${lost.id}/flow-checks/${sent.started.id}`, { headers: { authorization: `Bearer ${TOKEN}` } }),
			servicesFrom(env),
			later
		);
		const check = (await response.json()) as FlowCheck;
		expect(check).toMatchObject({ status: 'done', result: 'fail', roundTrip: { step: 'timed_out' } });
		expect(check.dns!.mx.result).toBe('fail');
		expect(check.roundTrip.says).toContain('mx.elsewhere.example');
	});

	it('a probe that comes back after the check gave up is logged as a probe and noted on the expired check, which stays failed', async () => {
		const mailbox = await probeMailbox(await goodDomain());
		const { started, probe } = await sentCheck(mailbox);
		const raw = new TextEncoder().encode(cloudflareHop(RELAY_IP) + probe.data);
		const late = new Date(Date.parse(started.expiresAt) + 30_000);
		const logged = await handleInbound(
			{ from: mailbox.address, to: mailbox.address, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject: () => {} },
			servicesFrom(env),
			{ now: () => late }
		);
		expect(logged?.kind).toBe('probe');
		const check = await readCheck(mailbox.id, started.id);
		expect(check).toMatchObject({ status: 'done', result: 'fail', roundTrip: { step: 'timed_out', lateArrivalAt: late.toISOString(), logId: logged!.id } });
	});

	it('a token whose check is over (past its time and the grace for a late probe) is ordinary mail: refused by DMARC, or handed to the help desk', async () => {
		// A probe's header can be read later (the SMTP server's Sent folder, a log): it must not
		// turn mail sent with it afterwards into a probe, which is never refused and never handed on.
		const expiredAt = (check: FlowCheck) => new Date(Date.parse(check.expiresAt) + PROBE_LATE_GRACE_MS + 1_000);
		const inbound = async (data: string, to: string, at: Date) => {
			const raw = new TextEncoder().encode(cloudflareHop(RELAY_IP) + data);
			let rejected: string | null = null;
			const logged = await handleInbound(
				{ from: to, to, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject: (reason) => void (rejected = reason) },
				servicesFrom(env),
				{ now: () => at }
			);
			return { logged: logged!, rejected: rejected as string | null };
		};
		const reuse = (probe: Received, messageId: string) => probe.data.replace(`<${messageId}>`, `<reused-${messageId}>`);

		// p=reject and SPF that does not allow RELAY_IP: as a probe it would be kept (quarantined); as mail it is refused.
		const strict = await probeMailbox(await domainWith([...cloudflareMx(), ['', 'TXT', txt('v=spf1 ip4:127.0.0.1 -all')], ['_dmarc', 'TXT', txt('v=DMARC1; p=reject')]]));
		const first = await sentCheck(strict);
		const refused = await inbound(reuse(first.probe, first.started.roundTrip.messageId), strict.address, expiredAt(first.started));
		expect(refused.logged).toMatchObject({ kind: 'message', verdict: 'rejected', auth: { dmarc: 'fail' } });
		expect(refused.rejected).toMatch(/^5\d\d /);

		// Accepted mail with an old token goes to the help desk as message.received, like any mail.
		const integration = await createIntegration();
		expect((await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}/ok/expired-probe` } } })).status).toBe(200);
		const answer = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, {
				address: `${unique('support')}@${await goodDomain()}`,
				smtp: { host: '127.0.0.1', port: ports.outbound, username: USER, password: PASSWORD, encryption: 'none' }
			})
		});
		expect(answer.status, answer.text).toBe(201);
		const desk = answer.body as { id: string; address: string };
		const second = await sentCheck(desk);
		const accepted = await inbound(reuse(second.probe, second.started.roundTrip.messageId), desk.address, expiredAt(second.started));
		expect(accepted.rejected).toBeNull();
		expect(accepted.logged).toMatchObject({ kind: 'message', verdict: 'accepted' });
		const events = await env.DB.prepare('SELECT type FROM webhook_events WHERE subject_id = ?1').bind(accepted.logged.id).all<{ type: string }>();
		expect(events.results.map((event) => event.type)).toEqual(['message.received']);
		// Nor is it noted on the check it once belonged to.
		const check = await readCheck(desk.id, second.started.id);
		expect(check.roundTrip.logId).not.toBe(accepted.logged.id);
		expect(check.roundTrip.lateArrivalAt).toBeNull();
	});

	it('one check per mailbox at a time (409), a rate limit (429), and 404s', async () => {
		const mailbox = await probeMailbox(await goodDomain());
		const { started } = await sentCheck(mailbox);
		const again = await call('POST', `/api/mailboxes/${mailbox.id}/flow-check`);
		expect(again.status).toBe(409);
		expect(again.body.error.code).toBe('check_running');

		// Earlier checks of the last ten minutes, finished.
		const recent = new Date(Date.now() - 60_000).toISOString();
		for (let i = 1; i < CHECKS_PER_MAILBOX; i++) {
			await env.DB.prepare(
				"INSERT INTO flow_checks (id, mailbox_id, started_at, status, round_trip, probe_token_hash, expires_at) VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?3)"
			)
				.bind(crypto.randomUUID(), mailbox.id, recent, JSON.stringify(started.roundTrip), crypto.randomBytes(32).toString('hex'))
				.run();
		}
		await worker.scheduled({ cron: '*/5 * * * *', scheduledTime: Date.parse(started.expiresAt) + 1, noRetry() {} } as ScheduledController, env);
		const limited = await call('POST', `/api/mailboxes/${mailbox.id}/flow-check`);
		expect(limited.status).toBe(429);
		expect(limited.headers.get('retry-after')).toBe('60');

		expect((await call('POST', '/api/mailboxes/nope/flow-check')).status).toBe(404);
		expect((await call('GET', `/api/mailboxes/${mailbox.id}/flow-checks/nope`)).status).toBe(404);
		// A check is read through its own mailbox only.
		const other = await probeMailbox(await goodDomain());
		expect((await call('GET', `/api/mailboxes/${other.id}/flow-checks/${started.id}`)).status).toBe(404);
	});
});
