/**
 * SPEC §12 over HTTP: which providers are configured, starting a mailbox's sign-in
 * (`POST /api/mailboxes/:id/oauth/start`), and the provider's redirect back
 * (`GET /oauth/callback`, outside /api: a browser redirect carries no admin token; the single-use
 * `state` is its credential). No response ever carries a token.
 */
import { oauthProviderLabels, oauthProviderValues, type OAuthProvider } from '../../src/lib/schema/mailbox';
import { oauthStartRequestSchema, type OAuthProviders } from '../../src/lib/schema/oauth';
import { findMailbox } from '../db/mailboxes';
import { providerSetup } from '../oauth/providers';
import { finishSignIn, startSignIn, type StartRefusal } from '../oauth/sign-in';
import { answerFor, HttpError, json, readBody, type RefusalAnswers } from './http';
import { rateLimited } from './rate-limit';
import type { Handler } from './route';
import type { Services } from '../services';

export const providers: Handler = async ({ services }) => {
	const answer = Object.fromEntries(oauthProviderValues.map((provider) => [provider, providerSetup(services.config.oauth, provider)])) as OAuthProviders;
	return json(answer);
};

/** Each reason a sign-in cannot start (oauth/sign-in.ts), as its HTTP answer. */
const startRefused = (provider: OAuthProvider): RefusalAnswers<StartRefusal> => ({
	not_configured: ({ missing }) =>
		new HttpError(409, 'oauth_not_configured', `Sign-in with ${oauthProviderLabels[provider]} is not configured on this Mailgate: set ${missing.join(', ')}.`),
	too_many: () =>
		rateLimited('Too many sign-ins were started for this mailbox in the last 10 minutes; finish one or wait a few minutes.', 60)
});

export const start: Handler = async ({ request, services, params, now }) => {
	const { provider } = await readBody(request, oauthStartRequestSchema);
	const mailbox = await findMailbox(services.db, params.id!);
	if (!mailbox) throw new HttpError(404, 'not_found', 'This mailbox does not exist.');
	// The sign-in is for the saved settings: the app saves the form before it sends the admin away.
	if (mailbox.smtp.auth !== 'oauth2' || mailbox.smtp.oauth?.provider !== provider) {
		throw new HttpError(
			409,
			'sign_in_method_not_saved',
			`Save the mailbox with ${oauthProviderLabels[provider]} as its Sign-in method first, then sign in.`
		);
	}
	const deps = { db: services.db, oauth: services.config.oauth, sealer: services.config.sealer, publicOrigin: services.config.publicOrigin };
	const started = await startSignIn(deps, { mailbox, provider, origin: new URL(request.url).origin, now: now() });
	if (!started.ok) throw answerFor(startRefused(provider), started);
	return json({ authorizationUrl: started.authorizationUrl });
};

/**
 * `GET /oauth/callback?code&state` (or `?error&state`): finishes the sign-in and sends the
 * browser to the mailbox page with the outcome. The redirect neither caches nor leaks the code
 * in a Referer.
 */
export async function handleOAuthCallback(request: Request, services: Pick<Services, 'db' | 'config'>, now: () => Date = () => new Date()): Promise<Response> {
	const headers = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
	if (request.method !== 'GET') return new Response('Use GET.', { status: 405, headers: { ...headers, allow: 'GET' } });
	try {
		const outcome = await finishSignIn({ db: services.db, oauth: services.config.oauth, sealer: services.config.sealer }, new URL(request.url).searchParams, now());
		// What happened, for the operator; never a code or token.
		const log = outcome.result === 'connected' ? console.info : console.warn;
		log('oauth_sign_in', { mailbox: outcome.mailboxId, provider: outcome.provider, result: outcome.result, providerError: outcome.providerError });
		return new Response(null, { status: 303, headers: { ...headers, location: outcome.location } });
	} catch (error) {
		console.error('oauth_callback_error', { error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error });
		return new Response(null, { status: 303, headers: { ...headers, location: '/?oauth=error&reason=provider_error' } });
	}
}
