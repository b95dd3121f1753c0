import { api } from '$lib/api';
import type { OAuthProviders } from '$lib/schema/oauth';

let loaded: Promise<OAuthProviders> | null = null;

/**
 * SPEC §12: which providers this Mailgate can sign in with (asked once per page load; the
 * Worker's configuration does not change under a running app). Null when it cannot be asked.
 */
export async function loadOAuthSetup(): Promise<OAuthProviders | null> {
	loaded ??= api.oauthProviders();
	try {
		return await loaded;
	} catch {
		loaded = null;
		return null;
	}
}
