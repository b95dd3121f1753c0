/**
 * The admin token lives in this browser's localStorage. It arrives through
 * `/login#token=…`: a URL fragment never reaches the server, so the token is not logged
 * by any proxy on the way.
 */
const TOKEN_KEY = 'mailgate.adminToken';

export function readToken(): string | null {
	try {
		return localStorage.getItem(TOKEN_KEY);
	} catch {
		return null;
	}
}

export function saveToken(token: string): void {
	localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
	localStorage.removeItem(TOKEN_KEY);
}

/** Reads `token=…` from a location hash such as `#token=abc`. */
export function tokenFromHash(hash: string): string | null {
	const params = new URLSearchParams(hash.replace(/^#/, ''));
	const token = params.get('token')?.trim();
	return token ? token : null;
}
