/**
 * Who is signed in, as the whole app sees it. The token itself lives in localStorage
 * (`auth.ts`); this mirrors it in reactive state and remembers when the API refused it.
 */
import { forgetToken, readToken, saveToken } from './auth';

export const session = $state({
	token: readToken(),
	/** The API answered 401: the stored token is wrong or was rotated. */
	expired: false
});

export function signIn(token: string): void {
	saveToken(token);
	session.token = token;
	session.expired = false;
}

export function signOut(): void {
	forgetToken();
	session.token = null;
	session.expired = false;
}

/** A one-shot confirmation shown by the next page (e.g. "Mailbox saved" on the list). */
export const flash = $state({ message: '' });

export function takeFlash(): string {
	const message = flash.message;
	flash.message = '';
	return message;
}
