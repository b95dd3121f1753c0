/**
 * Sanitises mail HTML before it is stored (SPEC §5.6) with workerd's streaming HTMLRewriter:
 * no scripts, no active content, no event handlers, no javascript: or data: URLs except images.
 * The app also renders mail in a sandboxed iframe with a strict CSP; this is the first layer.
 */

const REMOVED_ELEMENTS = ['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'form', 'input', 'button', 'textarea', 'select', 'link', 'meta', 'base', 'noscript', 'template', 'svg', 'math'];
const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'background', 'poster', 'xlink:href', 'srcset', 'lowsrc', 'dynsrc'];

function isSafeUrl(value: string, attribute: string): boolean {
	const compact = decodeCharacterReferences(value).replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
	if (compact.startsWith('javascript:') || compact.startsWith('vbscript:')) return false;
	if (compact.startsWith('data:')) return attribute === 'src' && /^data:image\/(png|gif|jpe?g|webp);/.test(compact);
	return true;
}

/** Script in CSS: IE's expression() and behavior (not scroll-behavior), Firefox's -moz-binding, script URLs. */
function isSafeCss(css: string): boolean {
	const plain = css
		.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, '')
		// CSS Syntax §4.3.7: `\65 ` and `\e` are escapes for `e`.
		.replace(/\\([0-9a-f]{1,6})\s?/gi, (_, hex: string) => String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff)))
		.replace(/\\(.)/g, '$1');
	return !/expression\s*\(|(?<![\w-])behavior\s*:|-moz-binding|(?:java|vb)script\s*:/i.test(plain);
}

/**
 * HTMLRewriter hands attribute values over as written, but the browser decodes character
 * references in them (HTML §13.2.5.72) before it looks at the URL, so `&#106;avascript&colon;`
 * is `javascript:`. Numeric references, with or without `;`, and the named ones that spell a
 * scheme's colon or the white space a browser strips from one; no other named reference is
 * an ASCII letter.
 */
function decodeCharacterReferences(value: string): string {
	return value
		.replace(/&#(?:x([0-9a-f]+)|(\d+));?/gi, (_, hex: string | undefined, decimal: string | undefined) => {
			const code = hex !== undefined ? parseInt(hex, 16) : parseInt(decimal!, 10);
			return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
		})
		.replace(/&colon;/g, ':')
		.replace(/&Tab;/g, '\t')
		.replace(/&NewLine;/g, '\n');
}

export async function sanitizeHtml(html: string): Promise<string> {
	let stylesheet = '';
	const rewriter = new HTMLRewriter()
		.on('style', {
			// A stylesheet arrives in chunks; it is held back until whole, then kept or dropped.
			text(chunk) {
				stylesheet += chunk.text;
				if (!chunk.lastInTextNode) {
					chunk.remove();
					return;
				}
				// Raw text from inside one <style>, so it holds no `</style` to break out with.
				chunk.replace(isSafeCss(stylesheet) ? stylesheet : '', { html: true });
				stylesheet = '';
			}
		})
		.on(REMOVED_ELEMENTS.join(','), {
			element(element) {
				element.remove();
			}
		})
		.on('*', {
			element(element) {
				for (const attribute of [...element.attributes]) {
					const [name = '', value = ''] = attribute;
					const lower = name.toLowerCase();
					if (lower.startsWith('on') || (lower === 'style' && !isSafeCss(decodeCharacterReferences(value)))) {
						element.removeAttribute(name);
					} else if (URL_ATTRIBUTES.includes(lower) && !isSafeUrl(value, lower)) {
						element.removeAttribute(name);
					}
				}
			}
		});
	return rewriter.transform(new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })).text();
}
