// bench/outbound.mjs's third way out (SPEC §14): the same replies through Microsoft Graph's
// sendMail, played by the local OAuth stand-in (scripts/local-oauth.mjs), which answers every
// request DELAY_MS late, as the SMTP proxy delays every SMTP reply. The mailbox signs in the way a
// browser does (start → the stand-in's authorize, auto-consent → the Worker's callback), so the
// consumer gets its access token from the stand-in's token endpoint like any other mailbox.
import { startLocalOAuth } from '../scripts/local-oauth.mjs';

/**
 * @param {number} delayMs how late the stand-in answers each API request
 */
export async function startGraphStandIn(delayMs) {
	const standIn = await startLocalOAuth({ apiDelayMs: delayMs });
	return {
		/** The Worker settings that send Graph requests (and the sign-in) to the stand-in. */
		workerVars: standIn.workerVars,
		/**
		 * A mailbox that sends through the Graph API, signed in as `address`.
		 * @param {(method: string, path: string, body?: unknown) => Promise<any>} api
		 * @param {string} baseUrl the Worker's origin (its /oauth/callback)
		 * @param {{ integrationId: string, name: string, address: string }} mailbox
		 */
		async mailbox(api, baseUrl, { integrationId, name, address }) {
			const created = await api('POST', '/api/mailboxes', {
				integrationId,
				name,
				address,
				// The bench compares transports, not Microsoft's 30 a minute (SPEC §15, governed by bench/outbound.mjs
				// --limited): the mailbox allows the most the limits do, 10 requests at once and 600 a minute.
				smtp: { auth: 'oauth2', oauth: { provider: 'microsoft' }, sendVia: 'api', username: address, limits: { concurrent: 10, perMinute: 600 } }
			});
			const { authorizationUrl } = await api('POST', `/api/mailboxes/${created.id}/oauth/start`, { provider: 'microsoft' });
			const consent = await fetch(authorizationUrl, { redirect: 'manual' });
			const callback = consent.headers.get('location') ?? '';
			if (!callback.startsWith(baseUrl)) throw new Error(`Graph sign-in: the stand-in answered ${consent.status}, not a redirect to the Worker (${callback.slice(0, 200)})`);
			const back = await fetch(callback, { redirect: 'manual' });
			const landing = back.headers.get('location') ?? '';
			if (!landing.includes('oauth=connected')) throw new Error(`Graph sign-in: the Worker answered ${back.status} → ${landing}`);
			return created;
		},
		/**
		 * When each message the stand-in accepted (202) for `account` arrived, on performance.now()'s
		 * clock, as the SMTP server's arrivals are kept.
		 * @param {string} account
		 */
		arrivals: (account) =>
			standIn
				.apiRequests()
				.filter((request) => request.status === 202 && request.account.toLowerCase() === account.toLowerCase())
				.map((request) => Date.parse(request.at) - performance.timeOrigin),
		/** How many refresh_token grants the token endpoint has answered so far. */
		refreshes: () => standIn.issued().tokenRequests.filter((request) => request.grant === 'refresh_token').length,
		/** @param {string} account every sendMail request for `account`, whatever its answer */
		requests: (account) => standIn.apiRequests().filter((request) => request.account.toLowerCase() === account.toLowerCase()),
		close: standIn.close
	};
}
