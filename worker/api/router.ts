/**
 * /api: authenticate, match a route, enforce the caller's scope, run its handler, and turn
 * every outcome into JSON in the SPEC §7 error shape. Nothing a client sends should produce a
 * 500. The API key scope of SPEC §11 is decided here and only here: each route names what a
 * key may do on it (`scope`, required on every method); a record of another integration is a
 * 404, an admin route a 403.
 */
import { authenticate, type Principal } from '../auth/authenticate';
import { EncryptionKeyError } from '../crypto/secret-box';
import { mailboxIdsOfIntegration } from '../db/mailboxes';
import { findMessage } from '../db/messages';
import { findOutbound } from '../db/outbound';
import { HttpError, json } from './http';
import * as integrations from './integrations';
import * as flow from './flow';
import * as mailboxes from './mailboxes';
import * as messages from './messages';
import * as oauth from './oauth';
import * as outbound from './outbound';
import * as smtpTests from './smtp-tests';
import * as webhooks from './webhooks';
import type { Endpoint, Handler, RouteScope, Scope } from './route';
import type { Services } from '../services';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
	pattern: URLPattern;
	/** Every method names its scope (route.ts `Endpoint`): nothing is the admin's by omission. */
	methods: Partial<Record<Method, Endpoint>>;
}

const route = (pathname: string, methods: Route['methods']): Route => ({ pattern: new URLPattern({ pathname }), methods });
const admin = (handler: Handler): Endpoint => ({ scope: 'admin', handler });
/** An API key may call it too, reaching what `scope` says (route.ts `RouteScope`). */
const key = (scope: Exclude<RouteScope, 'admin'>, handler: Handler): Endpoint => ({ scope, handler });

const ID = ':id';
/** Ids are UUIDs; anything longer than this is not one of ours. */
const MAX_ID_LENGTH = 100;

export const routes: readonly Route[] = [
	route('/api/integrations', { GET: admin(integrations.list), POST: admin(integrations.create) }),
	route(`/api/integrations/${ID}`, {
		GET: admin(integrations.read),
		PATCH: admin(integrations.update),
		DELETE: admin(integrations.remove)
	}),
	route(`/api/integrations/${ID}/webhook-secret`, { GET: admin(webhooks.revealSecret), POST: admin(webhooks.rotateSecret) }),
	route(`/api/integrations/${ID}/webhook-test`, { POST: admin(webhooks.sendTest) }),
	route(`/api/integrations/${ID}/webhook-deliveries`, { GET: admin(webhooks.deliveries) }),
	route(`/api/integrations/${ID}/webhook-deliveries/:eventId/resend`, { POST: admin(webhooks.resend) }),
	route(`/api/integrations/${ID}/keys`, { GET: admin(webhooks.listKeys), POST: admin(webhooks.createKey) }),
	route(`/api/integrations/${ID}/keys/:keyId`, { DELETE: admin(webhooks.revokeKey) }),
	route('/api/mailboxes', { GET: key('list', mailboxes.list), POST: admin(mailboxes.create) }),
	route(`/api/mailboxes/${ID}`, { GET: key('mailbox', mailboxes.read), PATCH: admin(mailboxes.update), DELETE: admin(mailboxes.remove) }),
	route(`/api/mailboxes/${ID}/smtp-test`, { POST: admin(smtpTests.testSaved) }),
	route(`/api/mailboxes/${ID}/smtp-tests`, { GET: admin(smtpTests.history) }),
	route(`/api/mailboxes/${ID}/flow-check`, { POST: admin(flow.start) }),
	route(`/api/mailboxes/${ID}/oauth/start`, { POST: admin(oauth.start) }),
	route('/api/oauth/providers', { GET: admin(oauth.providers) }),
	route(`/api/mailboxes/${ID}/flow-checks/:checkId`, { GET: admin(flow.read) }),
	route('/api/smtp-test', { POST: admin(smtpTests.testDraft) }),
	route('/api/mailbox-health', { GET: admin(messages.health) }),
	route('/api/messages', { GET: key('list', messages.list) }),
	route('/api/messages/garbled-senders', { GET: admin(messages.garbled) }),
	route(`/api/messages/${ID}`, { GET: key('message', messages.read) }),
	route(`/api/messages/${ID}/raw`, { GET: key('message', messages.raw) }),
	route(`/api/messages/${ID}/attachments/:index`, { GET: key('message', messages.attachment) }),
	route(`/api/mailboxes/${ID}/outbound`, { POST: key('mailbox', outbound.create) }),
	route('/api/outbound', { GET: key('list', outbound.list) }),
	route(`/api/outbound/${ID}`, { GET: key('outbound', outbound.read) }),
	route(`/api/outbound/${ID}/raw`, { GET: key('outbound', outbound.raw) }),
	route(`/api/outbound/${ID}/retry`, { POST: key('outbound', outbound.retry) })
];

export async function handleApi(
	request: Request,
	services: Services,
	now: () => Date = () => new Date(),
	// Without an ExecutionContext (a direct call) the work still runs; nothing waits for it.
	waitUntil: (promise: Promise<unknown>) => void = (promise) => void promise.catch(() => {})
): Promise<Response> {
	try {
		const { config } = services;
		const auth = await authenticate(request, { db: services.db, adminToken: config.adminToken, access: config.access });
		if (!auth.ok) {
			throw new HttpError(401, 'unauthorized', auth.reason, {
				headers: { 'www-authenticate': 'Bearer realm="mailgate"' }
			});
		}
		refuseForgeable(request);
		const url = new URL(request.url);
		for (const { pattern, methods } of routes) {
			const match = pattern.exec({ pathname: url.pathname });
			if (!match) continue;
			const endpoint = methods[request.method as Method];
			if (!endpoint) {
				const allow = Object.keys(methods).join(', ');
				throw new HttpError(405, 'method_not_allowed', `Use ${allow} on this path.`, { headers: { allow } });
			}
			const params: Record<string, string> = {};
			for (const [key, value] of Object.entries(match.pathname.groups)) {
				if (value !== undefined) params[key] = safeDecode(value);
			}
			if ((params.id?.length ?? 0) > MAX_ID_LENGTH) throw new HttpError(404, 'not_found', 'No such record.');
			const scope = await scopeOf(auth.principal, endpoint.scope, params, services);
			return await endpoint.handler({ request, services, params, now, waitUntil, scope, principal: auth.principal });
		}
		throw new HttpError(404, 'not_found', `No API route ${url.pathname}.`);
	} catch (error) {
		if (error instanceof HttpError) return error.toResponse();
		// Sealing a secret (a password, a webhook secret, a sign-in) needs the key: say which setting.
		if (error instanceof EncryptionKeyError) return new HttpError(503, 'server_misconfigured', error.message).toResponse();
		// A bug or an outage (D1 unavailable). Log the kind and message only: request bodies,
		// which may hold an SMTP password, are never logged.
		console.error('api_error', { method: request.method, error: describe(error) });
		return json({ error: { code: 'internal', message: 'Something went wrong on our side; try again.' } }, 500);
	}
}

/** `application/json`, with or without parameters (RFC 8259 §11; `; charset=utf-8` is common). */
const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

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
	if (!JSON_CONTENT_TYPE.test(request.headers.get('content-type') ?? '')) {
		throw new HttpError(415, 'unsupported_media_type', 'Send the request with Content-Type: application/json (with a JSON body where the route takes one).');
	}
}

/**
 * The admin reaches everything. An API key reaches only the routes whose scope names a reach
 * for it, and through them only its integration's mailboxes and their mail.
 */
async function scopeOf(principal: Principal, access: RouteScope, params: Record<string, string>, services: Pick<Services, 'db'>): Promise<Scope | 'admin'> {
	if (principal.kind === 'admin') return 'admin';
	if (access === 'admin') {
		throw new HttpError(403, 'forbidden', 'An API key reaches its integration\'s mailboxes, messages and replies only; this route needs the admin.');
	}
	const scope: Scope = { integrationId: principal.integrationId, mailboxIds: await mailboxIdsOfIntegration(services.db, principal.integrationId) };
	if (access === 'list') return scope;
	const id = params.id!;
	const owner =
		access === 'mailbox' ? id : access === 'message' ? (await findMessage(services.db, id))?.mailboxId : (await findOutbound(services.db, id))?.mailboxId;
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
