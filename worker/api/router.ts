/**
 * /api: authenticate, match a route, run its handler, and turn every outcome into JSON in
 * the SPEC §7 error shape. Nothing a client sends should produce a 500.
 */
import { authenticate } from '../auth/authenticate';
import { HttpError, json } from './http';
import * as integrations from './integrations';
import * as mailboxes from './mailboxes';
import * as messages from './messages';
import * as outbound from './outbound';
import * as smtpTests from './smtp-tests';
import type { Handler } from './route';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
	pattern: URLPattern;
	handlers: Partial<Record<Method, Handler>>;
}

const route = (pathname: string, handlers: Route['handlers']): Route => ({
	pattern: new URLPattern({ pathname }),
	handlers
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
	route('/api/mailboxes', { GET: mailboxes.list, POST: mailboxes.create }),
	route(`/api/mailboxes/${ID}`, { GET: mailboxes.read, PATCH: mailboxes.update, DELETE: mailboxes.remove }),
	route(`/api/mailboxes/${ID}/smtp-test`, { POST: smtpTests.testSaved }),
	route(`/api/mailboxes/${ID}/smtp-tests`, { GET: smtpTests.history }),
	route('/api/smtp-test', { POST: smtpTests.testDraft }),
	route('/api/mailbox-health', { GET: messages.health }),
	route('/api/messages', { GET: messages.list }),
	route('/api/messages/garbled-senders', { GET: messages.garbled }),
	route(`/api/messages/${ID}`, { GET: messages.read }),
	route(`/api/messages/${ID}/raw`, { GET: messages.raw }),
	route(`/api/mailboxes/${ID}/outbound`, { POST: outbound.create }),
	route('/api/outbound', { GET: outbound.list }),
	route(`/api/outbound/${ID}`, { GET: outbound.read }),
	route(`/api/outbound/${ID}/raw`, { GET: outbound.raw }),
	route(`/api/outbound/${ID}/retry`, { POST: outbound.retry })
];

export async function handleApi(request: Request, env: Env, now: () => Date = () => new Date()): Promise<Response> {
	try {
		const auth = await authenticate(request, env);
		if (!auth.ok) {
			throw new HttpError(401, 'unauthorized', auth.reason, {
				headers: { 'www-authenticate': 'Bearer realm="mailgate"' }
			});
		}
		const url = new URL(request.url);
		for (const { pattern, handlers } of routes) {
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
			return await handler({ request, env, params, now });
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
