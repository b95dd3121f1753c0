/**
 * How a mailbox logs in to its SMTP server, in one place for everything that sends (the SMTP
 * test, replies, the mail flow check's probe, all through mailbox-sender.ts): its password,
 * opened from the sealed copy, or an OAuth 2.0 access token for its Microsoft 365 or Google
 * sign-in (SPEC §12). A login that cannot be made is a value with the words the admin sees,
 * like any other failed step.
 */
import {
	encryptionLabels,
	oauthProviderLabels,
	oauthServerProblem,
	PASSWORD_AGAIN_MESSAGE,
	sameSmtpServer,
	type OAuthProvider,
	type SmtpAuth
} from '../../src/lib/schema/mailbox';
import { isLoopbackHost } from '../../src/lib/schema/private-host';
import type { SmtpCategory, SmtpStage } from '../../src/lib/schema/smtp-test';
import type { Opened } from '../crypto/sealer';
import { replaceSealedPassword, type StoredMailbox } from '../db/mailboxes';
import { providerConfig, providerSetup, usableEndpoint } from '../oauth/providers';
import { accessTokenFor, type AccessFailure } from '../oauth/tokens';
import { API_NAMES } from './api-answers';
import type { ApiSignIn, LoginFailure } from './login';
import type { SmtpSettings } from '../smtp/settings';
import { connectHost } from '../smtp/target';
import type { Services } from '../services';


export type SmtpLogin =
	| {
			ok: true;
			settings: SmtpSettings;
			/**
			 * After the server refused the login at the auth step: an OAuth access token is dropped from
			 * the cache, and if it was a cached one the provider is asked for a new one at once, so a
			 * withdrawn access is found now (reconnect) rather than at the next attempt. Returns that
			 * failure to show instead of the server's refusal, or null.
			 */
			afterAuthRefused: () => Promise<LoginFailure | null>;
			/** SPEC §14: the mailbox sends through its provider's API (api-transport.ts), not SMTP. */
			api?: ApiSignIn;
	  }
	| { ok: false; failure: LoginFailure };

/**
 * Seals `plain` as the password of mailbox `id` for `smtp` (throws EncryptionKeyError without a
 * usable key). Issue 18: the sealer's `smtp-password` purpose binds it to the mailbox and the
 * server, port, account and encryption it was entered for, so a row pointed elsewhere in the
 * database, or a password copied to another row, does not open.
 */
export function sealPassword(services: Pick<Services, 'config'>, plain: string, id: string, smtp: Pick<StoredMailbox['smtp'], 'host' | 'port' | 'username' | 'encryption'>): Promise<string> {
	return services.config.sealer.seal('smtp-password', { mailboxId: id, smtp }, plain);
}

/**
 * The mailbox's password for its saved settings, or the sealer's `config` outcome when it does not
 * open (another key, or a row changed outside the API). A password sealed before the binding opens
 * under the mailbox id alone (`smtp-password-legacy`) and is then sealed again with the binding,
 * so it stops being usable anywhere else.
 */
async function openPassword(services: Pick<Services, 'db' | 'config'>, mailbox: Pick<StoredMailbox, 'id' | 'sealedPassword' | 'smtp'>): Promise<Opened> {
	const { sealer } = services.config;
	const opened = await sealer.open('smtp-password', { mailboxId: mailbox.id, smtp: mailbox.smtp }, mailbox.sealedPassword);
	if (opened.ok) return opened;
	const legacy = await sealer.open('smtp-password-legacy', { mailboxId: mailbox.id }, mailbox.sealedPassword);
	if (!legacy.ok) return opened;
	try {
		await replaceSealedPassword(services.db, mailbox.id, mailbox.sealedPassword, await sealPassword(services, legacy.value, mailbox.id, mailbox.smtp));
	} catch {
		// Sealing again is an upgrade, not a condition of sending: the next use tries again.
	}
	return legacy;
}

/** A login refused before anything is sent: settings that cannot work, found before connecting (SPEC §4 `config`). */
const refuse = (reason: LoginFailure['reason'], hint: string): SmtpLogin => ({
	ok: false,
	failure: { reason, stage: 'connect', category: 'config', hint, temporary: false }
});

/** The sign-in fields a login needs; the mailbox's own unless the SMTP test tries the form's. */
export interface LoginSettings {
	host: string;
	port: number;
	username: string;
	encryption: StoredMailbox['smtp']['encryption'];
	auth: SmtpAuth;
	oauth: { provider: OAuthProvider } | null;
	/** SPEC §14: how mail leaves (absent: SMTP). */
	sendVia?: 'smtp' | 'api';
}

/**
 * What sends the mailbox's mail, as hints name it: its SMTP server, or its provider's API (SPEC
 * §14); `atStart` for the first word of a sentence ("The Gmail API accepted…").
 */
export function sendingService(settings: Pick<LoginSettings, 'host' | 'auth' | 'oauth' | 'sendVia'>, atStart = false): string {
	if (settings.auth !== 'oauth2' || settings.sendVia !== 'api') return settings.host;
	const name = API_NAMES[settings.oauth?.provider ?? 'microsoft'];
	return atStart ? name.charAt(0).toUpperCase() + name.slice(1) : name;
}

/** A stored secret asked to go somewhere it may not (issue 18), and the form field that says so. */
export type SignInProblem =
	| { reason: 'not_provider_server'; field: 'smtp.host'; message: string }
	| { reason: 'settings_changed'; field: 'smtp.password'; message: string };

/**
 * Issue 18, the one check of where a stored secret may go (the SMTP test's form answers it as a
 * 422 on the field, a login as `config`): an OAuth access token only to its provider's own
 * servers over TLS (loopback on a local setup), a stored password only to the server, port,
 * account and encryption it was entered for.
 */
export function storedSecretProblem(settings: LoginSettings, saved: StoredMailbox['smtp'], options: { allowPrivateHosts: boolean }): SignInProblem | null {
	// SPEC §14: an API mailbox's token goes to its provider's API only (api-request.ts); no SMTP host is used.
	if (settings.auth === 'oauth2' && settings.sendVia === 'api') return null;
	if (settings.auth === 'oauth2') {
		const provider = settings.oauth?.provider ?? 'microsoft';
		const problem = oauthServerProblem({ host: connectHost(settings.host), encryption: settings.encryption, provider }, { allowLoopback: options.allowPrivateHosts });
		return problem ? { reason: 'not_provider_server', field: 'smtp.host', message: problem } : null;
	}
	return sameSmtpServer(settings, saved) ? null : { reason: 'settings_changed', field: 'smtp.password', message: PASSWORD_AGAIN_MESSAGE };
}

/** A password typed into the SMTP test's form: the admin's to send; it goes to the canonical host checked (smtp/target.ts). */
export function typedPasswordLogin(target: Omit<LoginSettings, 'auth' | 'oauth'>, password: string): SmtpLogin {
	const { port, username, encryption } = target;
	return { ok: true, settings: { host: connectHost(target.host), port, username, encryption, credential: { kind: 'password', password } }, afterAuthRefused: async () => null };
}

/**
 * The login for `mailbox` with `settings` (default: its saved SMTP settings). `now` is the clock
 * the access token's expiry is judged by (injectable for tests).
 */
export async function smtpLoginFor(
	services: Pick<Services, 'db' | 'config'>,
	mailbox: Pick<StoredMailbox, 'id' | 'sealedPassword' | 'smtp'>,
	options: { settings?: LoginSettings; now?: () => number } = {}
): Promise<SmtpLogin> {
	const settings = options.settings ?? mailbox.smtp;
	const { port, username, encryption } = settings;
	// The session connects to the canonical host the private-host check reads (smtp/target.ts).
	const host = connectHost(settings.host);
	const { allowPrivateSmtpHosts } = services.config;
	const provider = settings.oauth?.provider ?? 'microsoft';
	const now = options.now ?? (() => Date.now());
	// SPEC §14: an API mailbox's token goes only to its provider's API; its SMTP server is not used.
	if (settings.auth === 'oauth2' && settings.sendVia === 'api') return apiLoginFor(services, mailbox.id, { provider, account: username }, now);
	const problem = storedSecretProblem(settings, mailbox.smtp, { allowPrivateHosts: allowPrivateSmtpHosts });
	if (problem) return refuse(problem.reason, `Not sent: ${problem.message}.`);
	if (settings.auth !== 'oauth2') {
		// …and never in the clear, except to this machine on a local setup.
		if (encryption === 'none' && !(allowPrivateSmtpHosts && isLoopbackHost(host))) {
			return refuse(
				'unencrypted',
				`Not sent: with Encryption ${encryptionLabels.none} the stored password would travel unencrypted to ${settings.host}. Choose STARTTLS or SSL/TLS (usually port 587 or 465).`
			);
		}
		const password = await openPassword(services, mailbox);
		// The sealer's one rule for a value that no longer opens: `config`, with what to enter again.
		if (!password.ok) return refuse('password_undecryptable', password.lost.hint);
		return { ok: true, settings: { host, port, username, encryption, credential: { kind: 'password', password: password.value } }, afterAuthRefused: async () => null };
	}
	const subject = { id: mailbox.id, provider, account: username, sendVia: 'smtp' as const };
	const access = await accessTokenFor(services, subject, { now });
	if (!access.ok) return { ok: false, failure: explainAccess(access.failure, provider, username) };
	return {
		ok: true,
		settings: { host, port, username, encryption, credential: { kind: 'oauth2', accessToken: access.accessToken } },
		async afterAuthRefused() {
			await access.forget();
			if (!access.fromCache) return null;
			const fresh = await accessTokenFor(services, subject, { now, forceRefresh: true });
			return fresh.ok ? null : explainAccess(fresh.failure, provider, username);
		}
	};
}

/**
 * The access token for sending through the provider's API (SPEC §14), timed as the `token` stage,
 * with a way to renew it once when the API refuses it (a 401).
 */
async function apiLoginFor(
	services: Pick<Services, 'db' | 'config'>,
	mailboxId: string,
	{ provider, account }: { provider: OAuthProvider; account: string },
	now: () => number
): Promise<SmtpLogin> {
	const atToken = (failure: LoginFailure): LoginFailure => ({ ...failure, stage: 'token' });
	const { apiUrl } = providerConfig(services.config.oauth, provider, 'api');
	// The provider's one setup check names the unusable API URL; a cached token would not reach it.
	if (!usableEndpoint(apiUrl)) {
		const { missing } = providerSetup(services.config.oauth, provider);
		return { ok: false, failure: atToken(explainAccess({ reason: 'not_configured', missing }, provider, account)) };
	}
	const subject = { id: mailboxId, provider, account, sendVia: 'api' as const };
	const started = now();
	const access = await accessTokenFor(services, subject, { now });
	if (!access.ok) return { ok: false, failure: atToken(explainAccess(access.failure, provider, account)) };
	const api: ApiSignIn = {
		provider,
		apiUrl,
		account,
		accessToken: access.accessToken,
		tokenMs: now() - started,
		async renew() {
			await access.forget();
			const fresh = await accessTokenFor(services, subject, { now, forceRefresh: true });
			return fresh.ok ? { ok: true, accessToken: fresh.accessToken } : { ok: false, failure: atToken(explainAccess(fresh.failure, provider, account)) };
		}
	};
	return {
		ok: true,
		settings: { host: '', port: 0, username: account, encryption: 'tls', credential: { kind: 'oauth2', accessToken: access.accessToken } },
		api,
		afterAuthRefused: async () => null
	};
}

/** A login that could not be made, in the admin's words (SPEC §12: a withdrawn access says Reconnect). */
export function explainAccess(failure: AccessFailure, provider: OAuthProvider, account: string): LoginFailure {
	const name = oauthProviderLabels[provider];
	const button = `Sign in with ${provider === 'microsoft' ? 'Microsoft' : 'Google'}`;
	const auth = (hint: string): LoginFailure => ({ reason: failure.reason, stage: 'auth', category: 'auth', hint, temporary: false });
	const config = (hint: string): LoginFailure => ({ reason: failure.reason, stage: 'connect', category: 'config', hint, temporary: false });
	switch (failure.reason) {
		case 'not_connected':
			return auth(`This mailbox is not signed in to ${name} yet. Press ${button} on the mailbox page and sign in as ${account}.`);
		case 'other_provider':
			return auth(`This mailbox is signed in with ${oauthProviderLabels[failure.connected]}, but its Sign-in method is ${name}. Press ${button} on the mailbox page.`);
		// Issue 19: for these two the mailbox page's button reads "Reconnect" (the API says status "reconnect").
		case 'account_changed':
			return auth(`This mailbox is signed in as ${failure.account}, but its Account is now ${account}. Press Reconnect on the mailbox page and sign in as ${account} (or set the Account back).`);
		case 'reconnect':
			if ('scope' in failure && failure.scope) {
				return auth(
					`This mailbox's sign-in with ${name} was given for another way of sending than its Send through setting, and the new one needs its own consent. Press Reconnect on the mailbox page and sign in as ${account} again (or set Send through back).`
				);
			}
			return auth(`${name} no longer accepts this mailbox's sign-in (the access was withdrawn, or it expired or was revoked: invalid_grant). Press Reconnect on the mailbox page and sign in as ${account} again.`);
		case 'not_configured':
			return config(`Sign-in with ${name} is not configured on this Mailgate: set ${failure.missing.join(', ')} (see the README).`);
		case 'undecryptable':
			return config(failure.lost.hint);
		case 'token_endpoint': {
			const inner = failure.failure;
			if (inner.kind === 'client_rejected') {
				return config(`${name} refused Mailgate's app credentials (${inner.error}) when renewing the access. Check the client id and secret set for ${name} (a client secret expires).`);
			}
			if (inner.kind === 'unreachable') {
				return {
					reason: failure.reason,
					stage: 'auth',
					category: 'connection',
					hint: `Mailgate could not reach ${name}'s sign-in service to renew the access (${inner.message}). This is usually temporary: replies are retried by themselves; try the test again in a minute.`,
					temporary: true
				};
			}
			const said = inner.kind === 'provider_error' ? `${inner.error}${inner.description ? `: ${inner.description}` : ''}` : inner.message;
			return auth(`${name} refused to renew the access (${said}). If it persists, sign in again: press ${button} again on the mailbox page.`);
		}
	}
}
