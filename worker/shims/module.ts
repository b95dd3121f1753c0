/**
 * `module` as the Worker's dependencies see it (wrangler.toml [alias] and the test config).
 * email-reply-parser runs `createRequire(import.meta.url)` when it loads, to try the optional
 * `re2` engine. In a deployed Worker `import.meta.url` is undefined and workerd's createRequire
 * throws on it, so the Worker would fail to start. Here createRequire hands out a require that
 * finds nothing, and the parser falls back to RegExp as it does wherever re2 is not installed
 * (worker/webhooks/reply-text.ts bounds what that costs). Only createRequire is provided: a
 * dependency that wants more from `module` fails the build instead of failing at run time.
 */
export function createRequire(_from?: string | URL): (id: string) => never {
	return (id: string) => {
		throw new Error(`Cannot find module '${id}': the Worker loads no modules at run time`);
	};
}
