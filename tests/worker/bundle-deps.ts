/**
 * Dependencies the Worker imports, each bundled into one module for the Worker tests (as
 * bundle-mailauth.ts does for mailauth, and as wrangler bundles everything for the deployed
 * Worker). Every `worker` test file runs in a fresh workerd that loads the whole Worker module by
 * module through Vite's module runner; zod and jose alone are about 180 small files, loaded again
 * for each file. One file each makes that a few.
 */
import path from 'node:path';
import { build } from 'esbuild';

/** The package, and what the Worker and the tests import from it (an ESM entry re-exporting it). */
const BUNDLED: Record<string, string> = {
	zod: "export * from 'zod';",
	jose: "export * from 'jose';",
	'html-to-text': "export { compile, convert, htmlToText } from 'html-to-text';"
};

/** Bundles each package once (esbuild, well under a second) and returns the aliases for `resolve.alias`. */
export async function bundleDependencies(root: string): Promise<Array<{ find: RegExp; replacement: string }>> {
	return Promise.all(
		Object.entries(BUNDLED).map(async ([name, contents]) => {
			const outfile = path.join(root, `node_modules/.cache/mailgate/${name}.bundle.mjs`);
			await build({
				stdin: { contents, resolveDir: root, loader: 'js' },
				bundle: true,
				format: 'esm',
				platform: 'browser',
				conditions: ['workerd', 'worker', 'browser'],
				target: 'es2022',
				outfile,
				logLevel: 'error'
			});
			return { find: new RegExp(`^${name}$`), replacement: outfile };
		})
	);
}
