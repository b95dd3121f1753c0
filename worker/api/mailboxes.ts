/** /api/mailboxes: request -> schema -> repository -> response. The password never leaves. */
import {
	checkSignIn,
	mailboxCreateSchema,
	mailboxUpdateSchema,
	PASSWORD_AGAIN_MESSAGE,
	sameSmtpServer,
	storedLimits,
	type Mailbox,
	type OAuthConnection,
	type SmtpTestSummary
} from '../../src/lib/schema/mailbox';
import { z } from 'zod';
import { claimSmtpTest, latestSmtpTests } from '../db/smtp-tests';
import { MAX_TEST_RECEIPT_LENGTH, TEST_RECEIPT_MAX_AGE_MS, testOfReceipt } from './smtp-tests';
import { latestFlowChecks } from '../db/flow-checks';
import { closeExpiredFlowChecks } from '../flow/timeout';
import type { FlowCheckSummary } from '../../src/lib/schema/flow-check';
import { findIntegration } from '../db/integrations';
import * as db from '../db/mailboxes';
import type { StoredMailbox } from '../db/mailboxes';
import { deleteConnection, forgetAnyAccessToken } from '../db/oauth';
import { grantCovers, providerConfig } from '../oauth/providers';
import type { Config } from '../config';
import { unlessTaken } from '../db/errors';
import { sealPassword } from '../send/credentials';
import { HttpError, json, noContent, readBody, validationFailed } from './http';
import type { Handler } from './route';
import type { Services } from '../services';

/**
 * The API shape: the sealed password becomes `hasPassword`, the OAuth choice the sign-in's state
 * (SPEC §12, never a token); the latest SMTP test and mail flow check are attached. `oauth` is the
 * providers' settings, which say the scope each way of sending needs (SPEC §14).
 */
export function toPublicMailbox(
	mailbox: StoredMailbox,
	oauth: Config['oauth'],
	lastSmtpTest: SmtpTestSummary | null = null,
	lastFlowCheck: FlowCheckSummary | null = null
): Mailbox {
	const { sealedPassword, oauthConnection: _connection, pause, smtp, ...rest } = mailbox;
	// SPEC §15: the pause as the provider's time and words (a time past: it no longer waits).
	const paused = { pausedUntil: pause ? new Date(pause.until).toISOString() : null, pauseReason: pause?.reason ?? null };
	return { ...rest, smtp: { ...smtp, hasPassword: sealedPassword !== '', oauth: publicConnection(mailbox, oauth), ...paused }, lastSmtpTest, lastFlowCheck };
}

/**
 * The sign-in for the provider the settings name: connected, to reconnect (the provider withdrew
 * it, the Account changed since, or its grant lacks the scope of the mailbox's way of sending),
 * or not made yet. Derived on every read rather than stored, so switching Send through back to a
 * method the grant covers reads as connected again, and an invalid_grant stays what it was.
 */
function publicConnection({ smtp, oauthConnection: connection }: StoredMailbox, oauth: Config['oauth']): OAuthConnection | null {
	if (smtp.auth !== 'oauth2' || !smtp.oauth) return null;
	const { provider } = smtp.oauth;
	if (!connection || connection.provider !== provider) return { provider, account: null, connectedAt: null, status: 'not_connected', scopeMissing: false };
	const { scope, ...shown } = connection;
	const sameAccount = (connection.account ?? '').toLowerCase() === smtp.username.trim().toLowerCase();
	const scopeMissing = !grantCovers(providerConfig(oauth, provider, smtp.sendVia), scope);
	return { ...shown, status: sameAccount && !scopeMissing ? connection.status : 'reconnect', scopeMissing };
}

async function withLastTest(services: Pick<Services, 'db' | 'config'>, mailbox: StoredMailbox): Promise<Mailbox> {
	const [latest, flow] = await Promise.all([latestSmtpTests(services.db, mailbox.id), latestFlowChecks(services.db, mailbox.id)]);
	return toPublicMailbox(mailbox, services.config.oauth, latest.get(mailbox.id) ?? null, flow.get(mailbox.id) ?? null);
}

const notFound = () => new HttpError(404, 'not_found', 'This mailbox does not exist.');

const addressTaken = () =>
	new HttpError(409, 'address_taken', 'Another mailbox already uses this service email address.', {
		fields: { address: 'Another mailbox already uses this service email address' }
	});

export const list: Handler = async ({ services, scope, now }) => {
	// A check past its time reads as failed, not running (SPEC §13).
	await closeExpiredFlowChecks(services.db, now());
	const [all, latest, flow] = await Promise.all([db.listMailboxes(services.db), latestSmtpTests(services.db), latestFlowChecks(services.db)]);
	// An API key sees its integration's mailboxes only (SPEC §11).
	const mailboxes = scope === 'admin' ? all : all.filter((m) => scope.mailboxIds.includes(m.id));
	return json({ items: mailboxes.map((m) => toPublicMailbox(m, services.config.oauth, latest.get(m.id) ?? null, flow.get(m.id) ?? null)) });
};

export const read: Handler = async ({ services, params, now }) => {
	const mailbox = await db.findMailbox(services.db, params.id!);
	if (!mailbox) throw notFound();
	await closeExpiredFlowChecks(services.db, now());
	return json(await withLastTest(services, mailbox));
};

/**
 * Issue 19: `smtpTestReceipt`, what a passing SMTP test of the unsaved settings gave the form
 * (api/smtp-tests.ts); the test is kept with the mailbox when it was run with its settings.
 */
const createRequestSchema = mailboxCreateSchema.and(
	z.object({ smtpTestReceipt: z.string().max(MAX_TEST_RECEIPT_LENGTH, 'The SMTP test receipt is not one Mailgate gave').optional() })
);

export const create: Handler = async ({ request, services, now }) => {
	const { smtpTestReceipt, ...input } = await readBody(request, createRequestSchema);
	if (input.id) {
		// A retried create (SPEC §6): the first attempt already made it.
		const existing = await db.findMailbox(services.db, input.id);
		if (existing) return json(await withLastTest(services, existing), 200);
	}
	await requireIntegration(services, input.integrationId);
	if (await db.findMailboxByAddress(services.db, input.address)) throw addressTaken();
	const id = input.id ?? crypto.randomUUID();
	const at = now().toISOString();
	const { password, auth = 'password', oauth, sendVia = 'smtp', limits, ...smtp } = input.smtp;
	const oauth2 = auth === 'oauth2';
	const mailbox: StoredMailbox = {
		id,
		version: 1,
		integrationId: input.integrationId,
		name: input.name,
		description: input.description,
		address: input.address,
		smtp: { ...smtp, auth, oauth: oauth2 && oauth ? { provider: oauth.provider } : null, sendVia, limits: storedLimits(limits) },
		pause: null,
		// SPEC §12: with OAuth no password is stored.
		// Issue 18: sealed to the server, port, account and encryption it is for.
		sealedPassword: oauth2 || !password ? '' : await sealPassword(services, password, id, smtp),
		oauthConnection: null,
		manualForward: input.manualForward,
		createdAt: at,
		updatedAt: at
	};
	await unlessTaken(db.insertMailbox(services.db, mailbox), addressTaken);
	const location = { location: `/api/mailboxes/${id}` };
	if (smtpTestReceipt && !oauth2 && password) {
		const testId = await testOfReceipt(services, smtpTestReceipt, { ...mailbox.smtp, password });
		const since = new Date(now().getTime() - TEST_RECEIPT_MAX_AGE_MS).toISOString();
		if (testId && (await claimSmtpTest(services.db, testId, id, since))) return json(await withLastTest(services, mailbox), 201, location);
	}
	return json(toPublicMailbox(mailbox, services.config.oauth), 201, location);
};

export const update: Handler = async ({ request, services, params, now }) => {
	const input = await readBody(request, mailboxUpdateSchema);
	const current = await db.findMailbox(services.db, params.id!);
	if (!current) throw notFound();
	if (input.version !== current.version) throw versionConflict(await withLastTest(services, current));
	const { version, smtp: smtpPatch = {}, ...patch } = input;
	const { password, auth = current.smtp.auth, oauth = current.smtp.oauth, sendVia = current.smtp.sendVia, limits, ...smtp } = smtpPatch;
	const oauth2 = auth === 'oauth2';
	// SPEC §12 and §14: the sign-in fields are checked together, as they will be stored.
	const problems: Record<string, string> = {};
	checkSignIn({ auth, oauth, sendVia, password: password || (current.sealedPassword ? 'stored' : '') }, (issue) => (problems[issue.path.join('.')] = issue.message), {
		passwordRequired: true
	});
	const nextSmtp: StoredMailbox['smtp'] = {
		...current.smtp,
		...smtp,
		auth,
		oauth: oauth2 && oauth ? { provider: oauth.provider } : null,
		sendVia,
		// SPEC §15: absent keeps the overrides; null or {} goes back to the provider's defaults.
		limits: limits === undefined ? current.smtp.limits : storedLimits(limits)
	};
	// Issue 18: a stored password goes only to the server it was entered for; another server, port,
	// account or encryption needs it again (an admin token must not be worth the mailbox's password).
	if (!oauth2 && !password && current.sealedPassword && !sameSmtpServer(nextSmtp, current.smtp)) {
		problems['smtp.password'] = PASSWORD_AGAIN_MESSAGE;
	}
	if (Object.keys(problems).length > 0) throw validationFailed(problems);
	const next: StoredMailbox = {
		...current,
		...patch,
		smtp: nextSmtp,
		// SPEC §3: leaving the password empty on edit keeps the stored one (same server only, above). SPEC §12: with OAuth none is kept.
		sealedPassword: oauth2 ? '' : password ? await sealPassword(services, password, current.id, nextSmtp) : current.sealedPassword,
		updatedAt: now().toISOString()
	};
	if (next.integrationId !== current.integrationId) await requireIntegration(services, next.integrationId);
	if (next.address !== current.address && (await db.findMailboxByAddress(services.db, next.address, current.id))) {
		throw addressTaken();
	}
	const saved = await unlessTaken(db.updateMailbox(services.db, next, version), addressTaken);
	// A sign-in for another provider, or for a mailbox that now uses its password, is of no use: its tokens go.
	if (saved && current.oauthConnection && (!oauth2 || next.smtp.oauth?.provider !== current.oauthConnection.provider)) {
		await deleteConnection(services.db, current.id);
	} else if (saved && current.oauthConnection && sendVia !== current.smtp.sendVia) {
		await forgetAnyAccessToken(services.db, current.id);
	}
	const stored = await db.findMailbox(services.db, current.id);
	if (!stored) throw notFound();
	if (!saved) throw versionConflict(await withLastTest(services, stored));
	return json(await withLastTest(services, stored));
};

export const remove: Handler = async ({ services, params }) => {
	if (!(await db.deleteMailbox(services.db, params.id!))) throw notFound();
	return noContent();
};

async function requireIntegration(services: Pick<Services, 'db'>, id: string): Promise<void> {
	if (!(await findIntegration(services.db, id))) {
		throw validationFailed({ integrationId: 'This channel integration does not exist; choose another one' });
	}
}

function versionConflict(current: Mailbox): HttpError {
	return new HttpError(409, 'version_conflict', 'This mailbox was changed meanwhile; compare and choose.', { current });
}
