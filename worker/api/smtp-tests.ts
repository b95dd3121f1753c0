/**
 * The SMTP sending test over HTTP (SPEC §4, §7): on saved settings, or on the unsaved ones on
 * the form. A failed test is a result (200), not an error; errors are for requests that cannot
 * run a test at all (unknown mailbox, a test already running, too many tests).
 */
import { draftSmtpTestRequestSchema, savedSmtpTestRequestSchema, type SmtpTestResult } from '../../src/lib/schema/smtp-test';
import { decryptSecret } from '../crypto/secret-box';
import { findMailbox, type StoredMailbox } from '../db/mailboxes';
import * as db from '../db/smtp-tests';
import { TOTAL_BUDGET_MS } from '../smtp/limits';
import { runSmtpTest, type SmtpTestSettings } from '../smtp/run-smtp-test';
import { HttpError, json, readBody, validationFailed } from './http';
import type { Handler, RouteContext } from './route';

/** Tests per mailbox (or per unsaved target) in RATE_WINDOW_MS: enough to fix and retry, not to hammer a server. */
export const TESTS_PER_MAILBOX = 10;
/** Tests in RATE_WINDOW_MS across the whole deployment. */
export const TESTS_OVERALL = 60;
export const RATE_WINDOW_MS = 10 * 60_000;
/** A lease outlives the longest possible test, so a crashed test cannot block the mailbox for long. */
const LEASE_MS = TOTAL_BUDGET_MS + 5_000;

const mailboxNotFound = () => new HttpError(404, 'not_found', 'This mailbox does not exist.');

export const testSaved: Handler = async (context) => {
	const { request, env, params } = context;
	const input = await readBody(request, savedSmtpTestRequestSchema);
	const mailbox = await findMailbox(env.DB, params.id!);
	if (!mailbox) throw mailboxNotFound();
	const password = await openPassword(env, mailbox);
	return run(context, {
		mailboxId: mailbox.id,
		settings: 'saved',
		smtp: { ...mailbox.smtp, password },
		from: { name: mailbox.name, email: mailbox.address },
		to: input.to ?? mailbox.address
	});
};

export const testDraft: Handler = async (context) => {
	const { request, env } = context;
	const input = await readBody(request, draftSmtpTestRequestSchema);
	const mailbox = input.mailboxId ? await findMailbox(env.DB, input.mailboxId) : null;
	if (input.mailboxId && !mailbox) throw mailboxNotFound();
	// SPEC §4: an empty password on the form means the stored one.
	const password = input.smtp.password || (mailbox ? await openPassword(env, mailbox) : '');
	if (!password) throw validationFailed({ 'smtp.password': 'Enter the password to test with' });
	const fromEmail = /^[^@\s]+@[^@\s]+$/.test(input.smtp.username) ? input.smtp.username : input.to;
	return run(context, {
		mailboxId: mailbox?.id ?? null,
		settings: 'form',
		smtp: { ...input.smtp, password },
		from: mailbox ? { name: mailbox.name, email: mailbox.address } : { email: fromEmail },
		to: input.to
	});
};

export const history: Handler = async ({ env, params }) => {
	if (!(await findMailbox(env.DB, params.id!))) throw mailboxNotFound();
	return json({ items: await db.listSmtpTests(env.DB, params.id!) });
};

async function run(
	{ env, now }: RouteContext,
	test: {
		mailboxId: string | null;
		settings: SmtpTestResult['settings'];
		smtp: SmtpTestSettings;
		from: { name?: string; email: string };
		to: string;
	}
): Promise<Response> {
	const startedAt = now();
	const windowStart = new Date(startedAt.getTime() - RATE_WINDOW_MS).toISOString();
	const recent = await db.countSmtpTestsSince(env.DB, windowStart, test.mailboxId);
	if (recent.mailbox >= TESTS_PER_MAILBOX || recent.overall >= TESTS_OVERALL) {
		throw new HttpError(429, 'rate_limited', 'Too many SMTP tests in the last 10 minutes; wait a few minutes and try again.', {
			headers: { 'retry-after': String(Math.ceil(RATE_WINDOW_MS / 1000 / 10)) }
		});
	}
	const lease = `smtp-test:${test.mailboxId ?? `${test.smtp.host}:${test.smtp.port}:${test.smtp.username}`.toLowerCase()}`;
	if (!(await db.acquireLease(env.DB, lease, startedAt.getTime(), startedAt.getTime() + LEASE_MS))) {
		throw new HttpError(409, 'test_running', 'A test of this mailbox is already running; wait for its result.');
	}
	try {
		const outcome = await runSmtpTest({
			settings: test.smtp,
			from: test.from,
			to: test.to,
			allowPrivateHosts: env.ALLOW_PRIVATE_SMTP_HOSTS === 'true'
		});
		const result: SmtpTestResult = {
			id: crypto.randomUUID(),
			mailboxId: test.mailboxId,
			settings: test.settings,
			to: test.to,
			at: startedAt.toISOString(),
			...outcome
		};
		await db.insertSmtpTest(env.DB, result);
		return json(result);
	} finally {
		await db.releaseLease(env.DB, lease);
	}
}

async function openPassword(env: Env, mailbox: StoredMailbox): Promise<string> {
	try {
		return await decryptSecret({ sealed: mailbox.sealedPassword, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}` });
	} catch {
		throw new HttpError(
			503,
			'server_misconfigured',
			'The stored SMTP password cannot be decrypted with the current SMTP_ENCRYPTION_KEY; enter the password again.'
		);
	}
}
