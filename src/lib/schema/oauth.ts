/**
 * SPEC §12: OAuth 2.0 sign-in for a mailbox's SMTP (Microsoft 365, Google). What the app asks
 * (`POST /api/mailboxes/:id/oauth/start`, `GET /api/oauth/providers`) and how the Worker's
 * `/oauth/callback` reports back to the mailbox page (`?oauth=connected|error&reason=…`).
 */
import { z } from 'zod';
import { oauthProviderLabels, oauthProviderValues, type OAuthProvider } from './mailbox';

export const oauthStartRequestSchema = z.object({
	provider: z.enum(oauthProviderValues, { error: 'Choose microsoft or google' })
});
export const oauthStartResponseSchema = z.object({ authorizationUrl: z.string() });

/** Whether the Worker can sign in with a provider, and if not, which settings it lacks. */
export const oauthProviderSetupSchema = z.object({ configured: z.boolean(), missing: z.array(z.string()) });
export const oauthProvidersSchema = z.object({ microsoft: oauthProviderSetupSchema, google: oauthProviderSetupSchema });
export type OAuthProviderSetup = z.infer<typeof oauthProviderSetupSchema>;
export type OAuthProviders = z.infer<typeof oauthProvidersSchema>;

/**
 * Why a sign-in did not connect the mailbox (`?oauth=error&reason=…`). Codes, not sentences, in
 * the URL: the mailbox page shows its own words for each, so a crafted link cannot put text of
 * its choosing on the page.
 */
export const oauthErrorReasons = [
	'consent_refused',
	'link_expired',
	'link_used',
	'wrong_account',
	'no_account',
	'email_unverified',
	'no_refresh_token',
	'client_rejected',
	'provider_error',
	'provider_unreachable',
	'not_configured',
	/** What Mailgate sealed for this sign-in no longer opens (SMTP_ENCRYPTION_KEY changed or unset; worker/crypto/sealer.ts). */
	'config'
] as const;
export type OAuthErrorReason = (typeof oauthErrorReasons)[number];

/** What the mailbox page says for a failed sign-in. `account` is who signed in (wrong_account). */
export function describeOAuthError(options: {
	reason: string | null;
	provider?: OAuthProvider | null;
	account?: string | null;
	mailboxAccount?: string | null;
}): string {
	const name = options.provider ? oauthProviderLabels[options.provider] : 'the provider';
	const again = `Press Sign in with ${options.provider ? (options.provider === 'microsoft' ? 'Microsoft' : 'Google') : 'the provider'} to try again.`;
	switch (options.reason as OAuthErrorReason) {
		case 'consent_refused':
			return `The sign-in was cancelled or the permissions were declined at ${name}, so the mailbox is not connected. ${again} If your organisation must approve new apps, ask its administrator to grant consent to Mailgate.`;
		case 'link_expired':
			return `The sign-in took longer than 10 minutes, so its link expired. ${again}`;
		case 'link_used':
			return `This sign-in link was already used (or is not one Mailgate made). ${again}`;
		case 'wrong_account': {
			const who = options.account && /^[^\s@<>]+@[^\s@<>]+$/.test(options.account) ? options.account : 'another account';
			const expected = options.mailboxAccount ? ` (${options.mailboxAccount})` : '';
			return `You signed in as ${who}, which is not the mailbox's Account${expected}. Sign in as the Account, or change the Account to the address you sign in with and save.`;
		}
		case 'no_account': {
			const permissions = options.provider === 'microsoft' ? '"openid" and "profile"' : '"openid" and "email"';
			return `${name} did not say which account signed in (no address in its answer), so Mailgate cannot check it is the mailbox's Account. Check that the app registration allows the ${permissions} permissions.`;
		}
		case 'email_unverified':
			return `${name} says the address of the account that signed in is not verified, so Mailgate cannot be sure it is the mailbox's Account. Verify the address with ${name} (or sign in with the Account itself), then sign in again.`;
		case 'no_refresh_token':
			return `${name} did not grant lasting access (offline access), so the mailbox could not stay connected. Check that the app registration allows offline_access, then sign in again.`;
		case 'client_rejected':
			return `${name} refused Mailgate's app credentials. Check the client id and client secret set for Mailgate (the secret may have expired).`;
		case 'provider_unreachable':
			return `Mailgate could not reach ${name} to finish the sign-in. ${again}`;
		case 'not_configured':
			return `Sign-in with ${name} is not configured on this Mailgate. See the README's OAuth section for the settings to set.`;
		case 'config':
			return `Mailgate could not open what it kept for this sign-in: SMTP_ENCRYPTION_KEY was changed or removed since it started. Start the sign-in again from the mailbox page.`;
		default:
			return `${name} did not complete the sign-in. ${again}`;
	}
}
