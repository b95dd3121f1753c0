/**
 * SPEC §12 and §14 as pure configuration (worker/oauth/providers.ts): the scope each provider and
 * way of sending asks for, whether a grant's scope covers a way of sending, the sending APIs'
 * endpoints, and Microsoft's other clouds, whose ID tokens are issued under their own login host.
 */
import { describe, expect, it } from 'vitest';
import { mailboxSchema } from '../../src/lib/schema/mailbox';
import type { Config } from '../../worker/config';
import { expectedIssuer, grantCovers, providerConfig, providerSetup, scopeFor } from '../../worker/oauth/providers';

const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

function settings(overrides: Partial<Config['oauth']> = {}): Config['oauth'] {
	return {
		OAUTH_MICROSOFT_CLIENT_ID: 'ms-client',
		OAUTH_MICROSOFT_CLIENT_SECRET: 'ms-secret',
		OAUTH_MICROSOFT_TENANT: '',
		OAUTH_MICROSOFT_AUTHORIZE_URL: '',
		OAUTH_MICROSOFT_TOKEN_URL: '',
		OAUTH_GOOGLE_CLIENT_ID: 'g-client',
		OAUTH_GOOGLE_CLIENT_SECRET: 'g-secret',
		OAUTH_GOOGLE_AUTHORIZE_URL: '',
		OAUTH_GOOGLE_TOKEN_URL: '',
		OAUTH_MICROSOFT_GRAPH_URL: '',
		OAUTH_GOOGLE_GMAIL_URL: '',
		...overrides
	};
}

describe('scopes per way of sending (SPEC §14)', () => {
	it("scopeFor gives SPEC §14's four scopes (Microsoft keeps profile for preferred_username)", () => {
		expect(scopeFor('microsoft', 'smtp')).toBe('https://outlook.office.com/SMTP.Send offline_access openid profile email');
		expect(scopeFor('microsoft', 'api')).toBe('https://graph.microsoft.com/Mail.Send offline_access openid profile email');
		expect(scopeFor('google', 'smtp')).toBe('https://mail.google.com/ openid email');
		expect(scopeFor('google', 'api')).toBe('https://www.googleapis.com/auth/gmail.send openid email');
	});

	it('providerConfig asks for the method’s scope (SMTP by default) and names the sending API', () => {
		for (const provider of ['microsoft', 'google'] as const) {
			expect(providerConfig(settings(), provider).scope).toBe(scopeFor(provider, 'smtp'));
			expect(providerConfig(settings(), provider, 'api').scope).toBe(scopeFor(provider, 'api'));
		}
		expect(providerConfig(settings(), 'microsoft', 'api').apiUrl).toBe('https://graph.microsoft.com');
		expect(providerConfig(settings(), 'google', 'api').apiUrl).toBe('https://gmail.googleapis.com');
		const local = settings({ OAUTH_MICROSOFT_GRAPH_URL: 'http://127.0.0.1:8788/graph/', OAUTH_GOOGLE_GMAIL_URL: 'http://127.0.0.1:8788/gmail' });
		expect(providerConfig(local, 'microsoft', 'api').apiUrl).toBe('http://127.0.0.1:8788/graph');
		expect(providerConfig(local, 'google', 'api').apiUrl).toBe('http://127.0.0.1:8788/gmail');
		// A loopback Graph stands in for the public one: its tokens are the public Graph's.
		expect(providerConfig(local, 'microsoft', 'api').scope).toBe(scopeFor('microsoft', 'api'));
	});

	it("another cloud's Graph is asked for its own Mail.Send", () => {
		const government = settings({ OAUTH_MICROSOFT_GRAPH_URL: 'https://graph.microsoft.us' });
		expect(providerConfig(government, 'microsoft', 'api').scope).toBe('https://graph.microsoft.us/Mail.Send offline_access openid profile email');
		expect(providerConfig(government, 'microsoft', 'smtp').scope).toBe(scopeFor('microsoft', 'smtp'));
	});

	it('an unusable API override is named as a setting to fix', () => {
		const bad = settings({ OAUTH_MICROSOFT_GRAPH_URL: 'http://graph.example.com', OAUTH_GOOGLE_GMAIL_URL: 'not a url' });
		expect(providerSetup(bad, 'microsoft')).toEqual({ configured: false, missing: ['OAUTH_MICROSOFT_GRAPH_URL (https://)'] });
		expect(providerSetup(bad, 'google')).toEqual({ configured: false, missing: ['OAUTH_GOOGLE_GMAIL_URL (https://)'] });
		expect(providerSetup(settings(), 'microsoft')).toEqual({ configured: true, missing: [] });
	});

	it('a grant covers a method when it lists the method’s sending scope', () => {
		const ms = (sendVia: 'smtp' | 'api') => providerConfig(settings(), 'microsoft', sendVia);
		const google = (sendVia: 'smtp' | 'api') => providerConfig(settings(), 'google', sendVia);
		expect(grantCovers(ms('smtp'), 'https://outlook.office.com/SMTP.Send')).toBe(true);
		expect(grantCovers(ms('api'), 'https://outlook.office.com/SMTP.Send')).toBe(false);
		expect(grantCovers(ms('api'), scopeFor('microsoft', 'api'))).toBe(true);
		// Microsoft names Graph's own scopes without the resource in its token responses.
		expect(grantCovers(ms('api'), 'Mail.Send User.Read profile openid email')).toBe(true);
		expect(grantCovers(ms('smtp'), 'Mail.Send User.Read profile openid email')).toBe(false);
		// A grant made before SPEC §14 (no scope kept) was asked for SMTP.
		expect(grantCovers(ms('smtp'), null)).toBe(true);
		expect(grantCovers(ms('api'), null)).toBe(false);
		expect(grantCovers(google('smtp'), null)).toBe(true);
		expect(grantCovers(google('api'), 'https://www.googleapis.com/auth/gmail.send openid https://www.googleapis.com/auth/userinfo.email')).toBe(true);
		// Declined at Google's consent screen (granular consent): signed in, but may not send.
		expect(grantCovers(google('api'), 'openid https://www.googleapis.com/auth/userinfo.email')).toBe(false);
		// Switching to the API asks for gmail.send, even though the restricted scope would do.
		expect(grantCovers(google('api'), 'https://mail.google.com/ openid email')).toBe(false);
		const government = providerConfig(settings({ OAUTH_MICROSOFT_GRAPH_URL: 'https://graph.microsoft.us' }), 'microsoft', 'api');
		expect(grantCovers(government, 'https://graph.microsoft.us/Mail.Send offline_access')).toBe(true);
		expect(grantCovers(government, 'https://graph.microsoft.com/SMTP.Send')).toBe(false);
	});
});

describe("Microsoft's other clouds (SPEC §14): the issuer follows the configured login host", () => {
	const issuer = (authorize: string, tenant = '') =>
		expectedIssuer(providerConfig(settings({ OAUTH_MICROSOFT_AUTHORIZE_URL: authorize, OAUTH_MICROSOFT_TENANT: tenant }), 'microsoft'), { tid: TENANT });

	it('the public cloud by default, and for a loopback stand-in', () => {
		expect(issuer('')).toBe(`https://login.microsoftonline.com/${TENANT}/v2.0`);
		expect(issuer('http://127.0.0.1:8788/microsoft/authorize')).toBe(`https://login.microsoftonline.com/${TENANT}/v2.0`);
	});

	it('Azure Government and Azure China issue under their own host', () => {
		expect(issuer('https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize')).toBe(`https://login.microsoftonline.us/${TENANT}/v2.0`);
		expect(issuer('https://LOGIN.chinacloudapi.cn/common/oauth2/v2.0/authorize')).toBe(`https://login.chinacloudapi.cn/${TENANT}/v2.0`);
		// A configured tenant id is the only tenant, in that cloud too.
		const other = '00000000-0000-4000-8000-000000000001';
		expect(issuer('https://login.microsoftonline.us/x/oauth2/v2.0/authorize', other)).toBe(`https://login.microsoftonline.us/${other}/v2.0`);
	});

	it('Google is unchanged', () => {
		const google = providerConfig(settings({ OAUTH_GOOGLE_AUTHORIZE_URL: 'https://accounts.example.com/auth' }), 'google');
		expect(expectedIssuer(google, { iss: 'accounts.google.com' })).toBe('accounts.google.com');
		expect(expectedIssuer(google, {})).toBe('https://accounts.google.com');
	});
});

describe('the API shape of copies kept before SPEC §14', () => {
	it('reads sendVia smtp and scopeMissing false', () => {
		const at = '2026-01-01T00:00:00.000Z';
		const kept = mailboxSchema.parse({
			id: 'm1',
			version: 1,
			integrationId: 'i1',
			name: 'Support',
			description: '',
			address: 'support@acme.example.com',
			smtp: {
				host: 'smtp.office365.com',
				port: 587,
				username: 'desk@acme.example.com',
				encryption: 'starttls',
				hasPassword: false,
				auth: 'oauth2',
				oauth: { provider: 'microsoft', account: 'desk@acme.example.com', connectedAt: at, status: 'connected' }
			},
			manualForward: 'reject',
			createdAt: at,
			updatedAt: at,
			lastSmtpTest: null
		});
		expect(kept.smtp.sendVia).toBe('smtp');
		expect(kept.smtp.oauth?.scopeMissing).toBe(false);
	});
});
