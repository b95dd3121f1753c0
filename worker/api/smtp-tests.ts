/**
 * The SMTP sending test over HTTP (SPEC §4, §7): on saved settings, or on the unsaved ones on
 * the form. A failed test is a result (200), not an error; errors are for requests that cannot
 * run a test at all (unknown mailbox, a test already running, too many tests).
 */
import { sha256Hex } from '../crypto/sha256';
import { sameSmtpServer, type Encryption } from '../../src/lib/schema/mailbox';
import { draftSmtpTestRequestSchema, savedSmtpTestRequestSchema, type SmtpTestResult } from '../../src/lib/schema/smtp-test';
import { findMailbox, type StoredMailbox } from '../db/mailboxes';
import { busyAttempt, SLOT_WAIT_MS, takeInteractiveSlot } from '../governor/interactive-slot';
import { failedPayload } from '../send/payload';
import * as db from '../db/smtp-tests';
import { smtpLoginFor, storedSecretProblem, typedPasswordLogin, type SmtpLogin } from '../send/credentials';
import { runSmtpTest } from '../send/run-smtp-test';
import { ehloNameFor } from '../smtp/ehlo-name';
import { TOTAL_BUDGET_MS } from '../send/timeouts';
import { issueTestToken } from '../send/test-token';
import { HttpError, json, readBody, validationFailed } from './http';
import { pauseForLimit } from '../outbound/pause';
import { enforceRecentLimit, type RecentLimit } from './rate-limit';
import type { Handler, RouteContext } from './route';
import type { Services } from '../services';

/** Tests per mailbox (or per unsaved target) in RATE_WINDOW_MS: enough to fix and retry, not to hammer a server. */
export const TESTS_PER_MAILBOX = 10;
/** Tests in RATE_WINDOW_MS across the whole deployment. */
export const TESTS_OVERALL = 60;
export const RATE_WINDOW_MS = 10 * 60_000;
const SMTP_TEST_LIMIT: RecentLimit = { perMailbox: TESTS_PER_MAILBOX, overall: TESTS_OVERALL, windowMs: RATE_WINDOW_MS, says: 'SMTP tests' };
/** A lease outlives the longest possible test (its wait for a session slot included), so a crashed test cannot block the mailbox for long. */
const LEASE_MS = SLOT_WAIT_MS + TOTAL_BUDGET_MS + 5_000;

const mailboxNotFound = () => new HttpError(404, 'not_found', 'This mailbox does not exist.');

/**
 * Issue 19 (SPEC §16): how long a passing test of unsaved settings still counts for the mailbox
 * first saved with them. Long enough to finish the form, or to save it offline and sync later
 * the same day; older evidence may no longer be true of the server.
 */
export const TEST_RECEIPT_MAX_AGE_MS = 24 * 60 * 60_000;
/** A receipt is `testId:sealed`; the sealed part of a few hundred bytes (bounded in mailboxes.ts). */
export const MAX_TEST_RECEIPT_LENGTH = 1_000;

/** The settings a passing test ran with; the password only as its SHA-256, sealed with the rest. */
interface TestedSettings {
	host: string;
	port: number;
	username: string;
	encryption: Encryption;
	passwordSha256: string;
}

/**
 * Issue 19: a passing test of a new mailbox's unsaved settings gives the form a receipt, sealed
 * (AES-GCM, bound to the test's id) under SMTP_ENCRYPTION_KEY, so that the form cannot claim a
 * test for settings it did not run; the create that brings it back links the test (`testOfReceipt`, api/mailboxes.ts).
 * No key: no receipt (the test still runs).
 */
async function sealTestReceipt(services: Pick<Services, 'config'>, testId: string, settings: Omit<TestedSettings, 'passwordSha256'> & { password: string }): Promise<string | undefined> {
	const { password, ...server } = settings;
	const tested: TestedSettings = { ...server, passwordSha256: await sha256Hex(password) };
	try {
		return `${testId}:${await services.config.sealer.seal('smtp-test-receipt', { testId }, JSON.stringify(tested))}`;
	} catch {
		return undefined;
	}
}

/**
 * Issue 19: the test a receipt names, when the receipt opens and its settings (and password) are
 * the mailbox's own; null otherwise (a receipt that does not fit is ignored, never an error: the
 * mailbox is saved either way).
 */
export async function testOfReceipt(
	services: Pick<Services, 'config'>,
	receipt: string,
	mailbox: { host: string; port: number; username: string; encryption: Encryption; password: string }
): Promise<string | null> {
	const split = receipt.indexOf(':');
	if (split <= 0) return null;
	const testId = receipt.slice(0, split);
	const opened = await services.config.sealer.open('smtp-test-receipt', { testId }, receipt.slice(split + 1));
	if (!opened.ok) return null;
	let tested: TestedSettings;
	try {
		tested = JSON.parse(opened.value);
	} catch {
		return null;
	}
	if (!sameSmtpServer(tested, mailbox)) return null;
	return tested.passwordSha256 === (await sha256Hex(mailbox.password)) ? testId : null;
}

export const testSaved: Handler = async (context) => {
	const { request, services, params } = context;
	const input = await readBody(request, savedSmtpTestRequestSchema);
	const mailbox = await findMailbox(services.db, params.id!);
	if (!mailbox) throw mailboxNotFound();
	return run(context, {
		mailboxId: mailbox.id,
		mailbox,
		settings: 'saved',
		target: mailbox.smtp,
		login: () => smtpLoginFor(services, mailbox, { now: () => context.now().getTime() }),
		from: { name: mailbox.name, email: mailbox.address },
		to: input.to ?? mailbox.address
	});
};

export const testDraft: Handler = async (context) => {
	const { request, services } = context;
	const input = await readBody(request, draftSmtpTestRequestSchema);
	const mailbox = input.mailboxId ? await findMailbox(services.db, input.mailboxId) : null;
	if (input.mailboxId && !mailbox) throw mailboxNotFound();
	const { password, auth = 'password', oauth = null, ...target } = input.smtp;
	const { allowPrivateSmtpHosts } = services.config;
	let login: () => Promise<SmtpLogin>;
	if (auth === 'oauth2') {
		// SPEC §12: the token belongs to a saved mailbox's sign-in; the form may still change where it is used.
		if (!oauth?.provider) throw validationFailed({ 'smtp.oauth.provider': 'Choose Microsoft 365 or Google' });
		if (!mailbox) throw validationFailed({ 'smtp.auth': 'Save the mailbox and sign in first: an OAuth sign-in is tested on a saved mailbox.' });
		const settings = { ...target, auth, oauth };
		// Issue 18: the token goes only to the provider's own servers (the login's own check, answered on the field).
		const problem = storedSecretProblem(settings, mailbox.smtp, { allowPrivateHosts: allowPrivateSmtpHosts });
		if (problem) throw validationFailed({ [problem.field]: problem.message });
		login = () => smtpLoginFor(services, mailbox, { settings, now: () => context.now().getTime() });
	} else if (password) {
		login = async () => typedPasswordLogin(target, password);
	} else if (mailbox && mailbox.sealedPassword) {
		// SPEC §4: an empty password on the form means the stored one, but only for the server it
		// was entered for (issue 18): settings that differ from the saved ones need it typed again.
		const settings = { ...target, auth, oauth: null };
		const problem = storedSecretProblem(settings, mailbox.smtp, { allowPrivateHosts: allowPrivateSmtpHosts });
		if (problem) throw validationFailed({ [problem.field]: problem.message });
		login = () => smtpLoginFor(services, mailbox, { settings });
	} else {
		throw validationFailed({ 'smtp.password': 'Enter the password to test with' });
	}
	const fromEmail = /^[^@\s]+@[^@\s]+$/.test(input.smtp.username) ? input.smtp.username : input.to;
	return run(context, {
		mailboxId: mailbox?.id ?? null,
		mailbox,
		settings: 'form',
		target,
		// Issue 19: a new mailbox's passing test goes with it once it is saved with these settings.
		receiptFor: !mailbox && auth === 'password' && password ? { ...target, password } : undefined,
		login,
		from: mailbox ? { name: mailbox.name, email: mailbox.address } : { email: fromEmail },
		to: input.to
	});
};

export const history: Handler = async ({ services, params }) => {
	if (!(await findMailbox(services.db, params.id!))) throw mailboxNotFound();
	return json({ items: await db.listSmtpTests(services.db, params.id!) });
};

async function run(
	{ services, now }: RouteContext,
	test: {
		mailboxId: string | null;
		/** A saved mailbox's test takes one of its session slots (SPEC §15). */
		mailbox: StoredMailbox | null;
		settings: SmtpTestResult['settings'];
		/** Where the test connects (for the lease of an unsaved target). */
		target: { host: string; port: number; username: string };
		/** The settings a passing test's receipt seals (issue 19), for a mailbox not saved yet. */
		receiptFor?: { host: string; port: number; username: string; encryption: Encryption; password: string };
		/** The password or OAuth access token to log in with (send/credentials.ts). */
		login: () => Promise<SmtpLogin>;
		from: { name?: string; email: string };
		to: string;
	}
): Promise<Response> {
	const startedAt = now();
	await enforceRecentLimit(SMTP_TEST_LIMIT, startedAt, (since) => db.countSmtpTestsSince(services.db, since, test.mailboxId));
	const lease = `smtp-test:${test.mailboxId ?? `${test.target.host}:${test.target.port}:${test.target.username}`.toLowerCase()}`;
	if (!(await db.acquireLease(services.db, lease, startedAt.getTime(), startedAt.getTime() + LEASE_MS))) {
		throw new HttpError(409, 'test_running', 'A test of this mailbox is already running; wait for its result.');
	}
	try {
		// A login that cannot be made (SPEC §12: not signed in, access withdrawn) is a result like any failed step.
		// A stored password that no longer opens is such a result too (`config`, with what to enter again).
		// SPEC §15: one of the mailbox's session slots, waiting up to 15 s for one while replies are sending.
		const slot = test.mailbox ? await takeInteractiveSlot(services, test.mailbox) : undefined;
		const { credential: _credential, ...outcome } = slot === null ? busyOutcome(test.mailbox!) : await runSmtpTest({
			login: test.login,
			from: test.from,
			to: test.to,
			// SPEC §16: the message is marked, so if it comes back to a service address it is logged as a test.
			issueTestToken: () => issueTestToken(services.db, { mailboxId: test.mailboxId, to: test.to, at: startedAt }),
			allowPrivateHosts: services.config.allowPrivateSmtpHosts,
			ehloName: ehloNameFor(services.config.smtpEhloName, test.from.email)
		}).finally(() => slot?.release());
		const result: SmtpTestResult = {
			id: crypto.randomUUID(),
			mailboxId: test.mailboxId,
			settings: test.settings,
			to: test.to,
			at: startedAt.toISOString(),
			...outcome
		};
		await db.insertSmtpTest(services.db, result);
		// SPEC §15: a limit answer to the saved settings pauses the mailbox, as it would a reply's.
		if (outcome.limit && test.mailbox && test.settings === 'saved') await pauseForLimit(services.db, test.mailbox.id, outcome, startedAt);
		const receipt = result.ok && test.receiptFor ? await sealTestReceipt(services, result.id, test.receiptFor) : undefined;
		return json(receipt ? { ...result, receipt } : result);
	} finally {
		await db.releaseLease(services.db, lease);
	}
}

/** SPEC §15: no session slot came free in time, so the test did not connect (a result, not an error). */
function busyOutcome(mailbox: StoredMailbox): Awaited<ReturnType<typeof runSmtpTest>> {
	return { ...failedPayload(busyAttempt(mailbox), SLOT_WAIT_MS), temporary: true, transcript: [], steps: [] };
}
