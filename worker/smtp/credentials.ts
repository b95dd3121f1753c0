/**
 * How a mailbox logs in to its SMTP server, in one place for everything that sends (the SMTP
 * test, replies, the mail flow check's probe): its password, opened from the sealed copy, or an
 * OAuth 2.0 access token for its Microsoft 365 or Google sign-in (SPEC §12). A login that cannot
 * be made is a value with the words the admin sees, like any other failed step.
 */
import { oauthProviderLabels, type OAuthProvider, type SmtpAuth } from '../../src/lib/schema/mailbox';
import type { SmtpCategory, SmtpStage } from '../../src/lib/schema/smtp-test';
import { decryptSecret } from '../crypto/secret-box';
import type { StoredMailbox } from '../db/mailboxes';
import { accessTokenFor, type AccessFailure } from '../oauth/tokens';
import type { SmtpSettings } from './staged-session';

export interface LoginFailure {
	/** Why, for callers that answer some of them differently (the SMTP test's 503 for an undecryptable password). */
	reason: 'password_undecryptable' | AccessFailure['reason'];
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
	const { host, port, username, encryption } = settings;
	if (settings.auth !== 'oauth2') {
		try {
			const password = await decryptSecret({ sealed: mailbox.sealedPassword, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}` });
			return { ok: true, settings: { host, port, username, encryption, credential: { kind: 'password', password } }, afterAuthRefused: async () => null };
		} catch {
			return {
				ok: false,
				failure: {
					reason: 'password_undecryptable',
					stage: 'connect',
					category: 'config',
					hint: 'The stored SMTP password cannot be decrypted with the current SMTP_ENCRYPTION_KEY. Enter the mailbox\'s password again and save.',
					temporary: false
				}
			};
		}
	}
	const provider = settings.oauth?.provider ?? 'microsoft';
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
		case 'account_changed':
			return auth(`This mailbox is signed in as ${failure.account}, but its Account is now ${account}. Reconnect: press ${button} and sign in as ${account} (or set the Account back).`);
		case 'reconnect':
			return auth(`${name} no longer accepts this mailbox's sign-in (the access was withdrawn, or it expired or was revoked: invalid_grant). Reconnect: press ${button} on the mailbox page and sign in as ${account} again.`);
		case 'not_configured':
			return config(`Sign-in with ${name} is not configured on this Mailgate: set ${failure.missing.join(', ')} (see the README).`);
		case 'undecryptable':
			return config(`The stored ${name} sign-in cannot be decrypted with the current SMTP_ENCRYPTION_KEY. Reconnect: press ${button} on the mailbox page.`);
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
			return auth(`${name} refused to renew the access (${said}). If it persists, Reconnect: press ${button} on the mailbox page.`);
		}
	}
}
