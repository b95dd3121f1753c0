// The two send APIs of SPEC §14 on this machine, served by the OAuth stand-in
// (scripts/local-oauth.mjs) under /graph and /gmail: Microsoft Graph's
// `POST /v1.0/users/{account}/sendMail` (base64 MIME as text/plain, 202) and the Gmail API's
// `POST /gmail/v1/users/me/messages/send` (JSON `{ raw }` base64url, 200 `{ id, threadId }`).
// Each checks the bearer token the way the provider does (issued by the stand-in, to this
// provider, unexpired, unrevoked, with the send scope, for this account) and answers in the
// provider's own error shapes. For the tests: scripted answers for the next requests, a delay on
// every answer, and a record of each request with its decoded MIME (the token left out). With a
// relay, an accepted message for a service address goes on to the running Mailgate, as the
// provider's delivery and Email Routing would carry it.
import { randomBytes } from 'node:crypto';
import { localRelay } from './local-relay.mjs';

/** @typedef {import('./local-oauth.mjs').Provider} Provider */

/** The scope each API needs (SPEC §14); Gmail also takes the full mail scope. */
export const API_SCOPES = /** @type {const} */ ({
	microsoft: ['https://graph.microsoft.com/Mail.Send'],
	google: ['https://www.googleapis.com/auth/gmail.send', 'https://mail.google.com/']
});
/** Graph refuses a request over 4 MB (SPEC §14: about 3 MB of MIME once base64-encoded). */
const GRAPH_REQUEST_LIMIT_BYTES = 4 * 1024 * 1024;
/** Gmail's limit on a message sent through the API. */
const GMAIL_MESSAGE_LIMIT_BYTES = 35 * 1024 * 1024;

/**
 * @typedef {object} TokenInfo what the stand-in knows of an access token
 * @property {Provider} provider
 * @property {string} account
 * @property {string[]} scopes
 * @property {boolean} expired
 * @property {boolean} revoked
 */

/**
 * @typedef {object} ScriptedAnswer given to one API request instead of its own answer
 * @property {number} status (scripted 0: the connection breaks after the request was read)
 * @property {unknown} [body] an object is sent as JSON; a string as it is
 * @property {Record<string, string>} [headers] e.g. { 'retry-after': '3' }
 */

/**
 * @typedef {object} ApiRequest one send request, as received
 * @property {Provider} provider
 * @property {string} account the {account} of Graph's URL; Gmail: the token's account (else the URL's user id)
 * @property {number} status the status answered (a scripted one when scripted)
 * @property {string} mime the decoded message ('' when it could not be decoded)
 * @property {string} contentType
 * @property {string} authorization 'Bearer …redacted' (the token itself is never kept), or '' when absent
 * @property {string} at ISO 8601, when it arrived
 */

/**
 * @typedef {object} Answer
 * @property {number} status (scripted 0: the connection breaks after the request was read)
 * @property {unknown} [body]
 * @property {Record<string, string>} [headers]
 * @property {Buffer} [accepted] the message, when the provider took it for delivery
 */

/**
 * @param {{ lookupToken: (token: string) => TokenInfo | null, log: (line: string) => void, relay?: import('./local-relay.mjs').Relay, delayMs?: number }} options
 */
export function providerApis({ lookupToken, log, relay, delayMs = 0 }) {
	const relayed = relay ? localRelay(relay) : null;
	/** @type {Record<Provider, ScriptedAnswer[]>} */
	const scripted = { microsoft: [], google: [] };
	/** @type {ApiRequest[]} */
	const requests = [];
	let delay = delayMs;

	/**
	 * @param {Provider} provider
	 * @param {string} path after /graph or /gmail
	 * @param {{ method: string, authorization: string, contentType: string, body: Buffer }} request
	 * @param {import('node:http').ServerResponse} response
	 * @returns {boolean} whether the path is one of the APIs
	 */
	const handle = (provider, path, request, response) => {
		const route = provider === 'microsoft' ? /^\/v1\.0\/(?:users\/([^/]+)|me)\/sendMail$/i.exec(path) : /^\/gmail\/v1\/users\/([^/]+)\/messages\/send$/.exec(path);
		if (!route || request.method !== 'POST') return false;
		const pathUser = decodeURIComponent(route[1] ?? 'me');
		const tag = provider === 'microsoft' ? '[local graph]' : '[local gmail]';
		const token = /^Bearer (.+)$/i.exec(request.authorization)?.[1] ?? '';
		const info = token ? lookupToken(token) : null;
		const decoded = decode(provider, request);
		const own = provider === 'microsoft' ? graphAnswer(info, pathUser, request, decoded) : gmailAnswer(info, pathUser, request, decoded);
		const answer = scripted[provider].shift() ?? own;
		requests.push({
			provider,
			account: pathUser === 'me' && info ? info.account : pathUser,
			status: answer.status,
			mime: decoded?.toString('utf8') ?? '',
			contentType: request.contentType,
			authorization: request.authorization ? `${request.authorization.split(' ')[0]} …redacted` : '',
			at: new Date().toISOString()
		});
		setTimeout(() => {
			respond(response, answer);
			log(`${tag} ${describe(decoded)} → ${answer.status}${answer === own ? '' : ' (scripted)'}`);
			if (answer === own && own.accepted && relayed) deliver(own.accepted, info?.account ?? '', tag);
		}, delay);
		return true;
	};

	/**
	 * What the provider delivers goes on to the Worker for each service address among the To, Cc
	 * and Bcc headers, without the Bcc header (the provider removes it, SPEC §14).
	 * @param {Buffer} message
	 * @param {string} account
	 * @param {string} tag the log lines' prefix
	 */
	const deliver = (message, account, tag) => {
		const recipients = recipientsOf(message);
		const from = addresses(headerValue(headerBlock(message), 'from'))[0] ?? account;
		const data = Buffer.from(message.toString('latin1').replace(/^Bcc:.*\r?\n(?:[ \t].*\r?\n)*/im, ''), 'latin1');
		relayed
			?.handOver({ from, recipients, data, onHanded: (address) => log(`${tag} handed to the Worker for ${address}, as Email Routing would`) })
			.catch((/** @type {Error} */ error) => log(`${tag} not delivered to the Worker: ${error.message}`));
	};

	return {
		handle,
		/** @param {Provider} provider @param {ScriptedAnswer[]} answers replaces what is still queued */
		script(provider, answers) {
			scripted[provider] = [...answers];
		},
		/** @param {number} ms */
		setDelay(ms) {
			delay = Math.max(0, ms);
		},
		delay: () => delay,
		requests: () => [...requests]
	};
}

/**
 * The message a request carries, or null when it is not base64 of something shaped like MIME.
 * @param {Provider} provider
 * @param {{ contentType: string, body: Buffer }} request
 * @returns {Buffer | null}
 */
function decode(provider, { contentType, body }) {
	let encoded = '';
	if (provider === 'microsoft') encoded = body.toString('latin1');
	else {
		try {
			const raw = /** @type {{ raw?: unknown }} */ (JSON.parse(body.toString('utf8'))).raw;
			encoded = typeof raw === 'string' ? raw : '';
		} catch {
			return null;
		}
	}
	// Graph takes standard base64; Gmail's `raw` is base64url, though its JSON bytes take either.
	const alphabet = provider === 'microsoft' ? /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/ : /^[A-Za-z0-9+/_-]+={0,2}$/;
	if (!contentType || !alphabet.test(encoded)) return null;
	const message = Buffer.from(encoded.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/')), 'base64');
	// A header field first (RFC 5322 §2.2: name, colon), and a blank line ending the header block.
	return /^[\x21-\x39\x3b-\x7e]+:/.test(message.toString('latin1', 0, 200)) && /\r?\n\r?\n/.test(message.toString('latin1')) ? message : null;
}

/**
 * @param {TokenInfo | null} info
 * @param {string} pathUser
 * @param {{ contentType: string, body: Buffer }} request
 * @param {Buffer | null} message
 * @returns {Answer}
 */
function graphAnswer(info, pathUser, { contentType, body }, message) {
	const error = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ text, /** @type {Record<string, string>} */ headers = {}) => ({
		status,
		body: { error: { code, message: text, innerError: { date: new Date().toISOString(), 'request-id': randomBytes(16).toString('hex') } } },
		headers
	});
	const challenge = { 'www-authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"' };
	if (!info || info.provider !== 'microsoft') return error(401, 'InvalidAuthenticationToken', info ? 'Access token validation failure. Invalid audience.' : 'IDX14100: JWT is not well formed.', challenge);
	if (info.revoked) return error(401, 'InvalidAuthenticationToken', 'Access token validation failure: the grant was revoked.', challenge);
	if (info.expired) return error(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', challenge);
	if (!API_SCOPES.microsoft.some((scope) => info.scopes.includes(scope))) return error(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
	if (pathUser !== 'me' && pathUser.toLowerCase() !== info.account.toLowerCase())
		return error(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
	if (body.length > GRAPH_REQUEST_LIMIT_BYTES) return error(413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
	if (!/^text\/plain\b/i.test(contentType)) return error(400, 'RequestBodyRead', 'MIME content must be sent as text/plain, base64-encoded.');
	if (!message) return error(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
	if (recipientsOf(message).length === 0) return error(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid., A message can\'t be sent because it contains no recipients.');
	return { status: 202, accepted: message };
}

/**
 * @param {TokenInfo | null} info
 * @param {string} pathUser
 * @param {{ contentType: string, body: Buffer }} request
 * @param {Buffer | null} message
 * @returns {Answer}
 */
function gmailAnswer(info, pathUser, { contentType, body }, message) {
	const error = (/** @type {number} */ code, /** @type {string} */ status, /** @type {string} */ reason, /** @type {string} */ text, /** @type {Record<string, string>} */ headers = {}) => ({
		status: code,
		body: { error: { code, message: text, status, errors: [{ message: text, domain: 'global', reason }] } },
		headers
	});
	if (!info || info.provider !== 'google' || info.revoked || info.expired)
		return error(
			401,
			'UNAUTHENTICATED',
			'authError',
			'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
			{ 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' }
		);
	if (!API_SCOPES.google.some((scope) => info.scopes.includes(scope))) return error(403, 'PERMISSION_DENIED', 'insufficientPermissions', 'Request had insufficient authentication scopes.');
	if (pathUser !== 'me' && pathUser.toLowerCase() !== info.account.toLowerCase()) return error(403, 'PERMISSION_DENIED', 'forbidden', `Delegation denied for ${info.account}`);
	if (!/^application\/json\b/i.test(contentType)) return error(400, 'INVALID_ARGUMENT', 'badRequest', 'Invalid JSON payload received.');
	if (body.length > GMAIL_MESSAGE_LIMIT_BYTES) return error(413, 'FAILED_PRECONDITION', 'failedPrecondition', 'Message too large.');
	if (!message) return error(400, 'INVALID_ARGUMENT', 'invalidArgument', "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed, or not an RFC 822 message.");
	if (recipientsOf(message).length === 0) return error(400, 'INVALID_ARGUMENT', 'invalidArgument', 'Recipient address required');
	const id = randomBytes(8).toString('hex');
	return { status: 200, body: { id, threadId: id, labelIds: ['SENT'] }, accepted: message };
}

/**
 * @param {import('node:http').ServerResponse} response
 * @param {Answer | ScriptedAnswer} answer
 */
function respond(response, { status, body, headers = {} }) {
	// Status 0 (scripted): the request was read, then the connection breaks without an answer.
	if (status === 0) return void response.socket?.destroy();
	const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
	const type = body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8' };
	response.writeHead(status, { ...type, 'cache-control': 'no-store', ...headers });
	response.end(text);
}

/** @param {Buffer} message */
function headerBlock(message) {
	return (message.toString('latin1', 0, Math.min(message.length, 256 * 1024)).split(/\r?\n\r?\n/)[0] ?? '').replace(/\r?\n[ \t]+/g, ' ');
}

/** @param {string} head unfolded @param {string} name */
function headerValue(head, name) {
	return [...head.matchAll(new RegExp(`^${name}:(.*)$`, 'gim'))].map((match) => match[1] ?? '').join(', ');
}

/**
 * The addresses of an address-list header, display names (quoted or not) and comments left out.
 * @param {string} value
 */
function addresses(value) {
	const bare = value.replace(/"(?:[^"\\]|\\.)*"/g, '').replace(/\([^()]*\)/g, '');
	return [...bare.matchAll(/<?([^\s<>,;:@]+@[^\s<>,;]+?)>?(?=[\s,;]|$)/g)].map((match) => match[1] ?? '').filter(Boolean);
}

/** @param {Buffer} message */
function recipientsOf(message) {
	const head = headerBlock(message);
	return ['to', 'cc', 'bcc'].flatMap((name) => addresses(headerValue(head, name)));
}

/** @param {Buffer | null} message its subject and recipients, for the log */
function describe(message) {
	if (!message) return '(no message)';
	const subject = /^Subject: *(.*)$/im.exec(headerBlock(message))?.[1]?.trim() || '(no subject)';
	return `${subject} — to ${recipientsOf(message).join(', ') || '?'}`;
}
