/**
 * Who may call /api (SPEC §7, §11): the admin's bearer token, a Cloudflare Access JWT when
 * ACCESS_TEAM_DOMAIN and ACCESS_AUD are set, or an integration's API key (scoped to that
 * integration; the router enforces the scope). Outcomes are values; nothing here throws.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { findApiKeyByHash, touchApiKey } from '../db/webhooks';
import { API_KEY_PREFIX, hashApiKey } from './api-keys';

export type Principal =
	| { kind: 'admin'; name: 'admin-token' | `access:${string}` }
	| { kind: 'key'; keyId: string; integrationId: string };

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Access puts its JWT in this header on every request it lets through. */
const ACCESS_HEADER = 'cf-access-jwt-assertion';

/** What authenticating needs: the API keys' table and the admin's settings (worker/config.ts). */
export interface AuthDependencies {
	db: D1Database;
	/** ADMIN_TOKEN; "" when unset. */
	adminToken: string;
	/** Cloudflare Access, when both ACCESS_TEAM_DOMAIN and ACCESS_AUD are set. */
	access: { teamDomain: string; aud: string } | null;
}

export async function authenticate(request: Request, { db, adminToken, access }: AuthDependencies): Promise<AuthResult> {
	const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
	if (bearer?.startsWith(API_KEY_PREFIX)) {
		// Looked up by its hash: the database never sees the key, and a revoked key is gone.
		const key = await findApiKeyByHash(db, await hashApiKey(bearer));
		if (!key) return { ok: false, reason: 'This API key is not valid (it may have been revoked).' };
		await touchApiKey(db, key.id, new Date());
		return { ok: true, principal: { kind: 'key', keyId: key.id, integrationId: key.integrationId } };
	}
	if (bearer && adminToken && (await equalInConstantTime(bearer, adminToken))) {
		return { ok: true, principal: { kind: 'admin', name: 'admin-token' } };
	}
	const assertion = request.headers.get(ACCESS_HEADER);
	if (assertion && access) {
		const identity = await verifyAccessJwt(assertion, access.teamDomain, access.aud);
		if (identity) return { ok: true, principal: { kind: 'admin', name: `access:${identity}` } };
		return { ok: false, reason: 'The Cloudflare Access token is not valid for this application.' };
	}
	if (!adminToken && !access) {
		return { ok: false, reason: 'No ADMIN_TOKEN is configured on the Worker; set it as a secret.' };
	}
	return {
		ok: false,
		reason: bearer ? 'The admin token is not valid.' : 'Sign in: send Authorization: Bearer <admin token>.'
	};
}

/**
 * Compares two secrets without leaking where they differ: both are hashed first, so the
 * comparison runs over equal-length digests whatever the input lengths.
 */
export async function equalInConstantTime(a: string, b: string): Promise<boolean> {
	const encoder = new TextEncoder();
	const [left, right] = await Promise.all([
		crypto.subtle.digest('SHA-256', encoder.encode(a)),
		crypto.subtle.digest('SHA-256', encoder.encode(b))
	]);
	return crypto.subtle.timingSafeEqual(left, right);
}

/** The team's public keys, fetched and cached (and refreshed on unknown `kid`) by jose. */
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * `teamDomain` is `myteam.cloudflareaccess.com`; a full origin (`http://127.0.0.1:8788`) is
 * also accepted so tests can serve keys from loopback.
 */
export function accessIssuer(teamDomain: string): string {
	const trimmed = teamDomain.trim().replace(/\/+$/, '');
	return /^https?:\/\//.test(trimmed) ? trimmed : `https://${trimmed}`;
}

async function verifyAccessJwt(token: string, teamDomain: string, audience: string): Promise<string | null> {
	const issuer = accessIssuer(teamDomain);
	let keySet = keySets.get(issuer);
	if (!keySet) {
		keySet = createRemoteJWKSet(new URL(`${issuer}/cdn-cgi/access/certs`));
		keySets.set(issuer, keySet);
	}
	try {
		const { payload } = await jwtVerify(token, keySet, {
			issuer,
			audience,
			algorithms: ['RS256'],
			clockTolerance: 60
		});
		return typeof payload.email === 'string' ? payload.email : (payload.sub ?? 'unknown');
	} catch {
		return null;
	}
}
