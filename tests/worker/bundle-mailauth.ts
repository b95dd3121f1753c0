/**
 * mailauth is CommonJS and requires ESM-only nodemailer; wrangler's esbuild bundling handles
 * that for the deployed Worker, but the test runner's module loader cannot. So the tests get
 * mailauth bundled by esbuild the way wrangler bundles it, with the same aliases as
 * wrangler.toml [alias] (undici stub, node:crypto digest-name fix).
 */
import path from 'node:path';
import { build } from 'esbuild';
import { builtinModules } from 'node:module';

export async function bundleMailauth(root: string): Promise<string> {
	const outfile = path.join(root, 'node_modules/.cache/mailgate/mailauth.bundle.mjs');
	await build({
		// An ESM entry, so the bundle has mailauth's functions as named exports.
		stdin: {
			contents: "export { authenticate, dkimSign, sealMessage, spf, dmarc, arc } from 'mailauth';",
			resolveDir: root,
			loader: 'js'
		},
		bundle: true,
		format: 'esm',
		platform: 'node',
		target: 'es2022',
		outfile,
		logLevel: 'error',
		alias: {
			undici: path.join(root, 'worker/shims/undici.ts'),
			'node:crypto': path.join(root, 'worker/shims/mailauth-crypto.ts')
		},
		external: [...builtinModules, ...builtinModules.map((name) => `node:${name}`)].filter((name) => name !== 'node:crypto'),
		// esbuild turns require() of built-ins into a runtime require; workerd provides one through node:module.
		banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
	});
	return outfile;
}
