/**
 * How a mailbox logs in to its SMTP server, in one place for everything that sends (the SMTP
 * test, replies, the mail flow check's probe): its password, opened from the sealed copy, or an
 * OAuth 2.0 access token for its Microsoft 365 or Google sign-in (SPEC §12). A login that cannot
 * be made is a value with the words the admin sees, like any other failed step.
 */
import {
	encryptionLabels,
	oauthProviderLabels,
	oauthServerProblem,
	PASSWORD_AGAIN_MESSAGE,
	sameSmtpServer,
	smtpServerKey,
	type OAuthProvider,
	type SmtpAuth
} from '../../src/lib/schema/mailbox';
import { isLoopbackHost } from '../../src/lib/schema/private-host';
import type { SmtpCategory, SmtpStage } from '../../src/lib/schema/smtp-test';
import { decryptSecret, encryptSecret } from '../crypto/secret-box';
import { replaceSealedPassword, type StoredMailbox } from '../db/mailboxes';
import { accessTokenFor, type AccessFailure } from '../oauth/tokens';
import type { SmtpSettings } from './staged-session';
import { connectHost } from './target';

export interface LoginFailure {
	/** Why, for callers that answer some of them differently (the SMTP test's 503 for an undecryptable password). */
	reason: 'password_undecryptable' | 'settings_changed' | 'not_provider_server' | 'unencrypted' | AccessFailure['reason'];
	stage: SmtpStage;
	category: SmtpCategory;
	hint: string;
	/** Worth trying again later by itself (a provider that did not answer), as retry-policy.ts decides for replies. */
	temporary: boolean;
}

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
	  }
	| { ok: false; failure: LoginFailure };

/**
 * What a stored password is sealed to (the AES-GCM additional data): its mailbox and the server,
 * port, account and encryption it was entered for (issue 18). A row pointed elsewhere in the
 * database, or a password copied to another row, does not open.
 */
export function passwordBinding(id: string, smtp: Pick<StoredMailbox['smtp'], 'host' | 'port' | 'username' | 'encryption'>): string {
	return `mailbox:${id}:smtp-password:${smtpServerKey(smtp)}`;
}

/** Passwords sealed before the binding were bound to the mailbox only; they are sealed again on first use. */
const legacyBinding = (id: string) => `mailbox:${id}`;

/** Seals `plain` as the password of mailbox `id` for `smtp` (throws EncryptionKeyError without a usable key). */
export function sealPassword(env: Env, plain: string, id: string, smtp: Pick<StoredMailbox['smtp'], 'host' | 'port' | 'username' | 'encryption'>): Promise<string> {
	return encryptSecret({ plain, secret: env.SMTP_ENCRYPTION_KEY, boundTo: passwordBinding(id, smtp) });
}

/**
 * The mailbox's password for its saved settings, or null when it does not open (another key, or
 * a row changed outside the API). A password sealed before the binding opens under the mailbox id
 * alone and is then sealed again with the binding, so it stops being usable anywhere else.
 */
async function openPassword(env: Env, mailbox: Pick<StoredMailbox, 'id' | 'sealedPassword' | 'smtp'>): Promise<string | null> {
	const open = (boundTo: string) => decryptSecret({ sealed: mailbox.sealedPassword, secret: env.SMTP_ENCRYPTION_KEY, boundTo }).catch(() => null);
	const password = await open(passwordBinding(mailbox.id, mailbox.smtp));
	if (password !== null) return password;
	const legacy = await open(legacyBinding(mailbox.id));
	if (legacy === null) return null;
	try {
		await replaceSealedPassword(env.DB, mailbox.id, mailbox.sealedPassword, await sealPassword(env, legacy, mailbox.id, mailbox.smtp));
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
}

/**
 * The login for `mailbox` with `settings` (default: its saved SMTP settings). `now` is the clock
 * the access token's expiry is judged by (injectable for tests).
 */
export async function smtpLoginFor(
	env: Env,
	mailbox: Pick<StoredMailbox, 'id' | 'sealedPassword' | 'smtp'>,
	options: { settings?: LoginSettings; now?: () => number } = {}
): Promise<SmtpLogin> {
	const settings = options.settings ?? mailbox.smtp;
	const { port, username, encryption } = settings;
	// The session connects to the canonical host the private-host check reads (smtp/target.ts).
	const host = connectHost(settings.host);
	const loopbackAllowed = env.ALLOW_PRIVATE_SMTP_HOSTS === 'true' && isLoopbackHost(host);
	const provider = settings.oauth?.provider ?? 'microsoft';
	if (settings.auth === 'oauth2') {
		// Issue 18: an access token goes only to its provider's own servers, over TLS.
		const problem = oauthServerProblem({ host, encryption, provider }, { allowLoopback: loopbackAllowed });
		if (problem) return refuse('not_provider_server', `Not sent: ${problem}.`);
	} else {
		// Issue 18: the stored password goes only to the server it was entered for…
		if (!sameSmtpServer(settings, mailbox.smtp)) return refuse('settings_changed', `Not sent: ${PASSWORD_AGAIN_MESSAGE}.`);
		// …and never in the clear, except to this machine on a local setup.
		if (encryption === 'none' && !loopbackAllowed) {
			return refuse(
				'unencrypted',
				`Not sent: with Encryption ${encryptionLabels.none} the stored password would travel unencrypted to ${settings.host}. Choose STARTTLS or SSL/TLS (usually port 587 or 465).`
			);
		}
		const password = await openPassword(env, mailbox);
		if (password === null) {
			return refuse(
				'password_undecryptable',
				'The stored SMTP password cannot be opened: it was sealed with another SMTP_ENCRYPTION_KEY, or for other server settings than the saved ones. Enter the mailbox\'s password again and save.'
			);
		}
		return { ok: true, settings: { host, port, username, encryption, credential: { kind: 'password', password } }, afterAuthRefused: async () => null };
	}
	const subject = { id: mailbox.id, provider, account: username };
	const access = await accessTokenFor(env, subject, { now: options.now });
	if (!access.ok) return { ok: false, failure: explainAccess(access.failure, provider, username) };
	return {
		ok: true,
		settings: { host, port, username, encryption, credential: { kind: 'oauth2', accessToken: access.accessToken } },
		async afterAuthRefused() {
			await access.forget();
			if (!access.fromCache) return null;
			const fresh = await accessTokenFor(env, subject, { now: options.now, forceRefresh: true });
			return fresh.ok ? null : explainAccess(fresh.failure, provider, username);
		}
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
			return auth(`${name} no longer accepts this mailbox's sign-in (the access was withdrawn, or it expired or was revoked: invalid_grant). Press Reconnect on the mailbox page and sign in as ${account} again.`);
		case 'not_configured':
			return config(`Sign-in with ${name} is not configured on this Mailgate: set ${failure.missing.join(', ')} (see the README).`);
		case 'undecryptable':
			return config(`The stored ${name} sign-in cannot be decrypted with the current SMTP_ENCRYPTION_KEY. Sign in again: press ${button} again on the mailbox page.`);
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
