/**
 * Sanitises mail HTML before it is stored (SPEC §5.6) with workerd's streaming HTMLRewriter:
 * no scripts, no active content, no event handlers, no javascript: or data: URLs except images.
 * The app also renders mail in a sandboxed iframe with a strict CSP; this is the first layer.
 */

const REMOVED_ELEMENTS = ['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'form', 'input', 'button', 'textarea', 'select', 'link', 'meta', 'base', 'noscript', 'template', 'svg', 'math'];
const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'background', 'poster', 'xlink:href', 'srcset', 'lowsrc', 'dynsrc'];

function isSafeUrl(value: string, attribute: string): boolean {
	const compact = value.replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
	if (compact.startsWith('javascript:') || compact.startsWith('vbscript:')) return false;
	if (compact.startsWith('data:')) return attribute === 'src' && /^data:image\/(png|gif|jpe?g|webp);/.test(compact);
	return true;
}

export async function sanitizeHtml(html: string): Promise<string> {
	const rewriter = new HTMLRewriter()
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
					if (lower.startsWith('on') || lower === 'style' && /expression\s*\(|url\s*\(\s*['"]?\s*javascript:/i.test(value)) {
						element.removeAttribute(name);
					} else if (URL_ATTRIBUTES.includes(lower) && !isSafeUrl(value, lower)) {
						element.removeAttribute(name);
					}
				}
			}
		});
	return rewriter.transform(new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })).text();
}
