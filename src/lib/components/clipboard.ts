/** Copying for the message page: the async Clipboard API, or false so the caller can explain. */

/**
 * Writes `text` to the clipboard. False when the browser offers no clipboard here (an insecure
 * context, an old browser) or refuses (permission, the page not focused).
 */
export async function copyText(text: string): Promise<boolean> {
	if (typeof navigator === 'undefined' || !navigator.clipboard?.writeText) return false;
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		return false;
	}
}

/** Selects an element's text, so that copying by hand (Ctrl+C) is one key away. */
export function selectContents(element: Element | undefined | null): void {
	if (!element) return;
	const selection = window.getSelection();
	selection?.selectAllChildren(element);
}
