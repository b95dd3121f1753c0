/**
 * SPEC §13, starting a mail flow check: the check is recorded (`running`, with its probe's token
 * hashed), then the DNS lookups (dns-checks.ts) and the probe's send (probe.ts) run side by side
 * after the 202. Recognising the probe when it comes back is recognise.ts; giving up, timeout.ts.
 */
import { domainOf } from '../../src/lib/schema/address';
import { PROBE_TIMEOUT_SECONDS, type FlowCheck, type RoundTrip } from '../../src/lib/schema/flow-check';
import type { StoredMailbox } from '../db/mailboxes';
import { insertFlowCheck, recordDns } from '../db/flow-checks';
import { createCachingResolver, type DnsResolver } from '../dns/doh-resolver';
import { hashHeaderToken, newHeaderToken } from '../mail/header-token';
import { sendingService } from '../send/credentials';
import type { Transport } from '../send/transport';
import { checkDns } from './dns-checks';
import { sendProbe } from './probe';
import type { Services } from '../services';

export const PROBE_TIMEOUT_MS = PROBE_TIMEOUT_SECONDS * 1000;

export interface FlowDependencies {
	now?: () => Date;
	/** Replaces SMTP over cloudflare:sockets (tests). */
	transport?: Transport;
	resolver?: DnsResolver;
}

export interface StartedCheck {
	check: FlowCheck;
	token: string;
}

/** Records a new check (`running`), or null when one of this mailbox is still running. */
export async function startFlowCheck(db: D1Database, mailbox: StoredMailbox, at: Date): Promise<StartedCheck | null> {
	const token = newHeaderToken();
	const domain = domainOf(mailbox.address);
	const roundTrip: RoundTrip = {
		result: 'running',
		step: 'sending',
		says: `Sending the probe through ${sendingService(mailbox.smtp)} to ${mailbox.address}.`,
		to: mailbox.address,
		messageId: `${crypto.randomUUID()}@${domain}`,
		sentAt: null,
		smtp: null,
		arrivedAt: null,
		durationMs: null,
		auth: null,
		logId: null,
		lateArrivalAt: null
	};
	const check: FlowCheck = {
		id: crypto.randomUUID(),
		mailboxId: mailbox.id,
		startedAt: at.toISOString(),
		finishedAt: null,
		expiresAt: new Date(at.getTime() + PROBE_TIMEOUT_MS).toISOString(),
		status: 'running',
		dns: null,
		roundTrip,
		result: 'running'
	};
	const inserted = await insertFlowCheck(db, { ...check, tokenHash: await hashHeaderToken(token) });
	return inserted ? { check, token } : null;
}

/**
 * The work after the 202: the DNS lookups and the probe's send, side by side. Each records its
 * own part; nothing here throws (a part that never finishes is closed by the timeout).
 */
export async function runFlowCheck(services: Pick<Services, 'db' | 'config' | 'governor'>, started: StartedCheck, mailbox: StoredMailbox, deps: FlowDependencies = {}): Promise<void> {
	const now = deps.now ?? (() => new Date());
	const guard = (part: string) => (error: unknown) =>
		console.error('flow_check_error', { part, check: started.check.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
	await Promise.all([runDns(services, started.check, mailbox, now, deps.resolver).catch(guard('dns')), sendProbe(services, started, mailbox, { now, transport: deps.transport }).catch(guard('probe'))]);
}

async function runDns(services: Pick<Services, 'db' | 'config'>, check: FlowCheck, mailbox: StoredMailbox, now: () => Date, resolver?: DnsResolver): Promise<void> {
	const dns = await checkDns({
		domain: domainOf(mailbox.address),
		smtpHost: mailbox.smtp.host,
		resolver: resolver ? createCachingResolver(resolver) : services.config.resolver()
	});
	await recordDns(services.db, check.id, dns, now().toISOString());
}

