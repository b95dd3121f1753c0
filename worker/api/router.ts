/**
 * /api: authenticate, match a route, enforce the caller's scope, run its handler, and turn
 * every outcome into JSON in the SPEC §7 error shape. Nothing a client sends should produce a
 * 500. The API key scope of SPEC §11 is decided here and only here: each route names what a
 * key may do on it; a record of another integration is a 404, any other route a 403.
 */
import { authenticate, type Principal } from '../auth/authenticate';
import { mailboxIdsOfIntegration } from '../db/mailboxes';
import { findMessage } from '../db/messages';
import { findOutbound } from '../db/outbound';
import { HttpError, json, JSON_CONTENT_TYPE, unsupportedMediaType } from './http';
import * as integrations from './integrations';
import * as flow from './flow';
import * as mailboxes from './mailboxes';
import * as messages from './messages';
import * as oauth from './oauth';
import * as outbound from './outbound';
import * as smtpTests from './smtp-tests';
import * as webhooks from './webhooks';
import type { Handler, Scope } from './route';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * What an API key may reach on a route: a list (its handler narrows it to `scope.mailboxIds`),
 * or the record named by `:id`, owned through its mailbox.
 */
type KeyAccess = 'list' | 'mailbox' | 'message' | 'outbound';

interface Route {
	pattern: URLPattern;
	handlers: Partial<Record<Method, Handler>>;
	keys: Partial<Record<Method, KeyAccess>>;
}

const route = (pathname: string, handlers: Route['handlers'], keys: Route['keys'] = {}): Route => ({
	pattern: new URLPattern({ pathname }),
	handlers,
	keys
});

const ID = ':id';
/** Ids are UUIDs; anything longer than this is not one of ours. */
const MAX_ID_LENGTH = 100;

const routes: Route[] = [
	route('/api/integrations', { GET: integrations.list, POST: integrations.create }),
	route(`/api/integrations/${ID}`, {
		GET: integrations.read,
		PATCH: integrations.update,
		DELETE: integrations.remove
	}),
	route(`/api/integrations/${ID}/webhook-secret`, { GET: webhooks.revealSecret, POST: webhooks.rotateSecret }),
	route(`/api/integrations/${ID}/webhook-test`, { POST: webhooks.sendTest }),
	route(`/api/integrations/${ID}/webhook-deliveries`, { GET: webhooks.deliveries }),
	route(`/api/integrations/${ID}/webhook-deliveries/:eventId/resend`, { POST: webhooks.resend }),
	route(`/api/integrations/${ID}/keys`, { GET: webhooks.listKeys, POST: webhooks.createKey }),
	route(`/api/integrations/${ID}/keys/:keyId`, { DELETE: webhooks.revokeKey }),
	route('/api/mailboxes', { GET: mailboxes.list, POST: mailboxes.create }, { GET: 'list' }),
	route(`/api/mailboxes/${ID}`, { GET: mailboxes.read, PATCH: mailboxes.update, DELETE: mailboxes.remove }, { GET: 'mailbox' }),
	route(`/api/mailboxes/${ID}/smtp-test`, { POST: smtpTests.testSaved }),
	route(`/api/mailboxes/${ID}/smtp-tests`, { GET: smtpTests.history }),
	route(`/api/mailboxes/${ID}/flow-check`, { POST: flow.start }),
	route(`/api/mailboxes/${ID}/oauth/start`, { POST: oauth.start }),
	route('/api/oauth/providers', { GET: oauth.providers }),
	route(`/api/mailboxes/${ID}/flow-checks/:checkId`, { GET: flow.read }),
	route('/api/smtp-test', { POST: smtpTests.testDraft }),
	route('/api/mailbox-health', { GET: messages.health }),
	route('/api/messages', { GET: messages.list }, { GET: 'list' }),
	route('/api/messages/garbled-senders', { GET: messages.garbled }),
	route(`/api/messages/${ID}`, { GET: messages.read }, { GET: 'message' }),
	route(`/api/messages/${ID}/raw`, { GET: messages.raw }, { GET: 'message' }),
	route(`/api/messages/${ID}/attachments/:index`, { GET: messages.attachment }, { GET: 'message' }),
	route(`/api/mailboxes/${ID}/outbound`, { POST: outbound.create }, { POST: 'mailbox' }),
	route('/api/outbound', { GET: outbound.list }, { GET: 'list' }),
	route(`/api/outbound/${ID}`, { GET: outbound.read }, { GET: 'outbound' }),
	route(`/api/outbound/${ID}/raw`, { GET: outbound.raw }, { GET: 'outbound' }),
	route(`/api/outbound/${ID}/retry`, { POST: outbound.retry }, { POST: 'outbound' })
];

export async function handleApi(
	request: Request,
	env: Env,
	now: () => Date = () => new Date(),
	// Without an ExecutionContext (a direct call) the work still runs; nothing waits for it.
	waitUntil: (promise: Promise<unknown>) => void = (promise) => void promise.catch(() => {})
): Promise<Response> {
	try {
		const auth = await authenticate(request, env);
		if (!auth.ok) {
			throw new HttpError(401, 'unauthorized', auth.reason, {
				headers: { 'www-authenticate': 'Bearer realm="mailgate"' }
			});
		}
		refuseForgeable(request);
		const url = new URL(request.url);
		for (const { pattern, handlers, keys } of routes) {
			const match = pattern.exec({ pathname: url.pathname });
			if (!match) continue;
			const handler = handlers[request.method as Method];
			if (!handler) {
				const allow = Object.keys(handlers).join(', ');
				throw new HttpError(405, 'method_not_allowed', `Use ${allow} on this path.`, { headers: { allow } });
			}
			const params: Record<string, string> = {};
			for (const [key, value] of Object.entries(match.pathname.groups)) {
				if (value !== undefined) params[key] = safeDecode(value);
			}
			if ((params.id?.length ?? 0) > MAX_ID_LENGTH) throw new HttpError(404, 'not_found', 'No such record.');
			const scope = await scopeOf(auth.principal, keys[request.method as Method], params, env);
			return await handler({ request, env, params, now, waitUntil, scope, principal: auth.principal });
		}
		throw new HttpError(404, 'not_found', `No API route ${url.pathname}.`);
	} catch (error) {
		if (error instanceof HttpError) return error.toResponse();
		// A bug or an outage (D1 unavailable). Log the kind and message only: request bodies,
		// which may hold an SMTP password, are never logged.
		console.error('api_error', { method: request.method, error: describe(error) });
		return json({ error: { code: 'internal', message: 'Something went wrong on our side; try again.' } }, 500);
	}
}

/** Methods that change nothing (RFC 9110 §9.2.1): a browser may send them from anywhere. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery. Behind Cloudflare Access the browser sends the admin's session
 * with any request, so a page elsewhere could post an HTML form or a no-cors fetch here: those
 * can only carry text/plain, form encodings or no body (the Fetch standard's CORS-safelisted
 * request headers). Every other request must therefore say Content-Type: application/json,
 * even one without a body (retry, rotate a secret, resend, delete), which a browser sends
 * cross-origin only after a CORS preflight this API never grants. A browser also says where a
 * request comes from (Fetch Metadata, `Sec-Fetch-Site`): the app is same-origin, so
 * `cross-site` is refused outright. Help desks calling from a server send no Sec-Fetch-Site.
 */
function refuseForgeable(request: Request): void {
	if (SAFE_METHODS.has(request.method)) return;
	if (request.headers.get('sec-fetch-site') === 'cross-site') {
		throw new HttpError(403, 'cross_site', 'Requests from another site cannot change anything here.');
	}
	if (!JSON_CONTENT_TYPE.test(request.headers.get('content-type') ?? '')) throw unsupportedMediaType();
}

/**
 * The admin reaches everything (null). An API key reaches only the routes that name an access
 * for it, and through them only its integration's mailboxes and their mail.
 */
async function scopeOf(principal: Principal, access: KeyAccess | undefined, params: Record<string, string>, env: Env): Promise<Scope | null> {
	if (principal.kind === 'admin') return null;
	if (!access) {
		throw new HttpError(403, 'forbidden', 'An API key reaches its integration\'s mailboxes, messages and replies only; this route needs the admin.');
	}
	const scope: Scope = { integrationId: principal.integrationId, mailboxIds: await mailboxIdsOfIntegration(env.DB, principal.integrationId) };
	if (access === 'list') return scope;
	const id = params.id!;
	const owner =
		access === 'mailbox' ? id : access === 'message' ? (await findMessage(env.DB, id))?.mailboxId : (await findOutbound(env.DB, id))?.mailboxId;
	// Another integration's record answers exactly like one that does not exist.
	if (!owner || !scope.mailboxIds.includes(owner)) throw new HttpError(404, 'not_found', 'No such record.');
	return scope;
}

function safeDecode(value: string): string {
	try {
		return decodeURIComponent(value);
	} catch {
		return value;
	}
}

function describe(error: unknown): string {
	return error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
}
