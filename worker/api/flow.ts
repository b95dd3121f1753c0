/**
 * The mail flow check over HTTP (SPEC §13). Starting answers 202 at once with the check
 * (`running`); its DNS lookups and the probe's send go on after the response (waitUntil), and
 * the app polls the check until it is `done`. One check per mailbox at a time (409), and a
 * rate limit like the SMTP test's (429): a check sends real mail through the mailbox's server.
 */
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import { countFlowChecksSince, findFlowCheck } from '../db/flow-checks';
import { findMailbox } from '../db/mailboxes';
import { runFlowCheck, startFlowCheck } from '../flow/start';
import { closeExpiredFlowChecks } from '../flow/timeout';
import { HttpError, json } from './http';
import { enforceRecentLimit, type RecentLimit } from './rate-limit';
import type { Handler } from './route';

/** Checks per mailbox in RATE_WINDOW_MS: each sends a probe through the mailbox's server. */
export const CHECKS_PER_MAILBOX = 5;
/** Checks in RATE_WINDOW_MS across the whole deployment. */
export const CHECKS_OVERALL = 30;
export const RATE_WINDOW_MS = 10 * 60_000;
const FLOW_CHECK_LIMIT: RecentLimit = { perMailbox: CHECKS_PER_MAILBOX, overall: CHECKS_OVERALL, windowMs: RATE_WINDOW_MS, says: 'mail flow checks' };

const mailboxNotFound = () => new HttpError(404, 'not_found', 'This mailbox does not exist.');

/** `POST /api/mailboxes/:id/flow-check` → 202 with the check. */
export const start: Handler = async ({ services, params, now, waitUntil }) => {
	const mailbox = await findMailbox(services.db, params.id!);
	if (!mailbox) throw mailboxNotFound();
	const at = now();
	// A check past its time no longer blocks a new one.
	await closeExpiredFlowChecks(services.db, at);
	await enforceRecentLimit(FLOW_CHECK_LIMIT, at, (since) => countFlowChecksSince(services.db, since, mailbox.id));
	const started = await startFlowCheck(services.db, mailbox, at);
	if (!started) throw new HttpError(409, 'check_running', 'A mail flow check of this mailbox is already running; wait for its result.');
	waitUntil(runFlowCheck(services, started, mailbox));
	return json(started.check satisfies FlowCheck, 202, { location: `/api/mailboxes/${mailbox.id}/flow-checks/${started.check.id}` });
};

/** `GET /api/mailboxes/:id/flow-checks/:checkId`: the check as it stands (closed first if past its time). */
export const read: Handler = async ({ services, params, now }) => {
	await closeExpiredFlowChecks(services.db, now());
	const check = await findFlowCheck(services.db, params.id!, params.checkId!);
	if (!check) throw new HttpError(404, 'not_found', 'This mail flow check does not exist.');
	return json(check);
};
