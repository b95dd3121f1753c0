/**
 * "Update available": a new service worker (a new build of the app) installs in the background
 * and waits. It takes over only when the admin says so, so a form half filled in is never
 * swapped for another version of the app under their feet.
 */

/** How often an open app asks the server whether a new version exists. */
export const UPDATE_CHECK_MS = 60 * 60_000;

export const appUpdate = $state({ waiting: null as ServiceWorker | null });

/** Follows the app's service worker registration; returns the function that stops following. */
export function watchForUpdates(): () => void {
	if (!('serviceWorker' in navigator)) return () => {};
	let timer: ReturnType<typeof setInterval> | undefined;
	let stopped = false;

	const offer = (worker: ServiceWorker) => {
		// With no controller this is the first install, not an update: nothing to ask.
		if (navigator.serviceWorker.controller && !stopped) appUpdate.waiting = worker;
	};
	const track = (worker: ServiceWorker | null) => {
		if (!worker) return;
		if (worker.state === 'installed') return offer(worker);
		worker.addEventListener('statechange', () => {
			if (worker.state === 'installed') offer(worker);
		});
	};
	const follow = (registration: ServiceWorkerRegistration) => {
		if (stopped) return;
		track(registration.waiting);
		track(registration.installing);
		registration.addEventListener('updatefound', () => track(registration.installing));
		const check = () => registration.update().catch(() => {
			// Offline or the server is away: the next check will do.
		});
		void check();
		timer = setInterval(check, UPDATE_CHECK_MS);
	};

	void navigator.serviceWorker.getRegistration().then((registration) => {
		if (registration) follow(registration);
		else void navigator.serviceWorker.ready.then(follow);
	});
	return () => {
		stopped = true;
		clearInterval(timer);
	};
}

/** The admin accepted: the waiting worker takes over and the page reloads on the new version. */
export function applyUpdate(): void {
	const worker = appUpdate.waiting;
	if (!worker) return;
	navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
	worker.postMessage({ type: 'SKIP_WAITING' });
}
