/**
 * How a message's HTML is shown: as the document of a sandboxed iframe (no scripts, no
 * same-origin access, no forms, no popups) whose first element is a Content-Security-Policy
 * that loads nothing but inline styles and inline (data:) images. Remote images need the
 * admin's click, because loading one tells the sender the message was opened, and from where.
 *
 * The Worker stores HTML sanitised already (worker/mail/sanitize-html.ts); this is the second
 * layer and must hold on its own. A `srcdoc` document also inherits the app page's CSP, so the
 * app's `img-src` (svelte.config.js) has to allow `https:` for remote images to appear at all.
 */

/** The policy of the message document; `remoteImages` adds https: images (never plain http). */
export function messagePolicy(remoteImages: boolean): string {
	return `default-src 'none'; style-src 'unsafe-inline'; img-src data:${remoteImages ? ' https:' : ''}`;
}

/** Keeps wide mail inside the frame on a phone; the message's own styles come after and win. */
const BASE_STYLE =
	'html{color-scheme:light}body{margin:12px;font-family:system-ui,sans-serif;overflow-wrap:break-word}img{max-width:100%;height:auto}';

/**
 * The iframe's `srcdoc`. The policy goes first in <head>, before anything the message could
 * load. A full document in `html` still parses into this one: its <html> and <head> tags merge
 * into ours and its head elements land after our policy (HTML §13.2.6.4.6, "after head").
 */
export function buildSrcdoc(html: string, options: { remoteImages: boolean }): string {
	return (
		'<!doctype html><html><head><meta charset="utf-8">' +
		`<meta http-equiv="Content-Security-Policy" content="${messagePolicy(options.remoteImages)}">` +
		'<meta name="referrer" content="no-referrer">' +
		`<style>${BASE_STYLE}</style></head>` +
		html
	);
}

export interface RemoteImages {
	/** Images over https (and protocol-relative ones): shown after "Show remote images". */
	https: number;
	/** Images over plain http: never loaded, even after the click. */
	http: number;
}

const CSS_URL = /url\(\s*(['"]?)\s*([^'")\s]+)/gi;

/**
 * Counts the remote images the policy blocks: <img>/<source>/<input type=image> sources and
 * srcsets, `background` attributes, poster frames and CSS `url()`s. DOMParser builds an inert
 * document: it runs no script and loads nothing.
 */
export function countRemoteImages(html: string): RemoteImages {
	const counts: RemoteImages = { https: 0, http: 0 };
	if (typeof DOMParser === 'undefined' || html === '') return counts;
	const doc = new DOMParser().parseFromString(html, 'text/html');
	const add = (value: string | null | undefined) => {
		const url = (value ?? '').trim().toLowerCase();
		if (url.startsWith('https:') || url.startsWith('//')) counts.https++;
		else if (url.startsWith('http:')) counts.http++;
	};
	for (const element of doc.querySelectorAll('img, source, input, video, [background]')) {
		const sources = [element.getAttribute('src'), element.getAttribute('poster'), element.getAttribute('background')];
		// A srcset names several sizes of one image: it counts once, by its first candidate.
		const srcset = element.getAttribute('srcset');
		if (srcset && !element.getAttribute('src')) sources.push(srcset.trim().split(/\s+/)[0] ?? null);
		for (const source of sources) add(source);
	}
	const css = [...doc.querySelectorAll('style')].map((style) => style.textContent ?? '');
	for (const element of doc.querySelectorAll('[style]')) css.push(element.getAttribute('style') ?? '');
	for (const sheet of css) for (const match of sheet.matchAll(CSS_URL)) add(match[2]);
	return counts;
}
