#!/usr/bin/env node
// Prints the app shell's JavaScript cost: every script the shell page loads on first visit
// (module preloads and imports reachable from them), raw and gzip. Run after `npm run build`.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = '.svelte-kit/cloudflare';
if (!existsSync(join(ROOT, 'index.html'))) {
	console.error('Build first: npm run build');
	process.exit(1);
}

const html = readFileSync(join(ROOT, 'index.html'), 'utf8');
const entry = [...html.matchAll(/(?:href|import\()\s*=?\s*"(\/_app\/[^"]+\.js)"/g)].map((m) => m[1]);

// Follow static imports (not dynamic `import()`, which loads later routes on demand) so the
// figure is what the browser fetches before the first page is usable.
const STATIC_IMPORT = /(?:^|[;}\s])(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?["'](\.{1,2}\/[^"']+\.js)["']/g;
const seen = new Set();
const queue = [...entry];
while (queue.length > 0) {
	const path = queue.shift();
	if (seen.has(path)) continue;
	seen.add(path);
	const code = readFileSync(join(ROOT, path), 'utf8');
	const dir = path.slice(0, path.lastIndexOf('/') + 1);
	for (const match of code.matchAll(STATIC_IMPORT)) queue.push(new URL(match[1], `http://x${dir}`).pathname);
}

let raw = 0;
let gzip = 0;
for (const path of seen) {
	const bytes = readFileSync(join(ROOT, path));
	raw += bytes.length;
	gzip += gzipSync(bytes, { level: 9 }).length;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`first-load JavaScript: ${seen.size} files, ${kb(raw)} raw, ${kb(gzip)} gzip (budget 100 KiB gzip)`);

let allRaw = 0;
let allGzip = 0;
let count = 0;
const walk = (dir) => {
	for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) walk(path);
		else if (entry.name.endsWith('.js')) {
			const bytes = readFileSync(join(ROOT, path));
			allRaw += bytes.length;
			allGzip += gzipSync(bytes, { level: 9 }).length;
			count += 1;
		}
	}
};
walk('_app');
console.log(`all app JavaScript (every route): ${count} files, ${kb(allRaw)} raw, ${kb(allGzip)} gzip`);
