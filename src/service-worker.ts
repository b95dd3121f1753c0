/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/**
 * App-shell service worker (SPEC §6): precaches the built app and static files under a
 * versioned cache, serves every navigation from the cached shell so the app opens with no
 * network, and never caches /api (its answers carry configuration) nor answers /oauth/ (the
 * Worker finishes a sign-in there). A new version waits until the admin accepts the "update
 * available" prompt (message SKIP_WAITING).
 */
import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE = `mailgate-shell-${version}`;
/** The SPA shell: every page is this document, routed on the client. */
const SHELL = '/';
const PRECACHE = [SHELL, ...build, ...files];

sw.addEventListener('install', (event) => {
	event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

sw.addEventListener('activate', (event) => {
	event.waitUntil(
		(async () => {
			for (const key of await caches.keys()) {
				if (key !== CACHE && key.startsWith('mailgate-shell-')) await caches.delete(key);
			}
			await sw.clients.claim();
		})()
	);
});

sw.addEventListener('message', (event) => {
	if (event.data?.type === 'SKIP_WAITING') void sw.skipWaiting();
});

sw.addEventListener('fetch', (event) => {
	const request = event.request;
	if (request.method !== 'GET') return;
	const url = new URL(request.url);
	// Only this origin's app files; /api goes to the network untouched and is never stored, and so
	// does /oauth/ (the provider's redirect back is a navigation the Worker must answer, SPEC §12).
	const worker = ['/api/', '/cdn-cgi/', '/oauth/'].some((prefix) => url.pathname.startsWith(prefix));
	if (url.origin !== sw.location.origin || worker) return;

	if (request.mode === 'navigate') {
		event.respondWith(
			(async () => {
				const cache = await caches.open(CACHE);
				const shell = await cache.match(SHELL);
				if (shell) return shell;
				return fetch(request);
			})()
		);
		return;
	}

	event.respondWith(
		(async () => {
			const cache = await caches.open(CACHE);
			const cached = await cache.match(url.pathname);
			if (cached) return cached;
			return fetch(request);
		})()
	);
});
