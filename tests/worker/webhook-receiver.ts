/**
 * Global setup (Node): a help desk's webhook endpoint on loopback that records every request
 * (headers and raw body) and answers as its path says, so each test picks its behaviour:
 * `/ok/…` 200, `/fail/N/…` 500 for the first N requests then 200, `/status/CODE/…` that code,
 * `/slow/…` no answer for 15 seconds. `GET /__received?path=…` lists what a path received.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
	export interface ProvidedContext {
		webhookOrigin: string;
	}
}

export interface ReceivedWebhook {
	path: string;
	headers: Record<string, string>;
	body: string;
	at: number;
}

export default async function setup(project: TestProject) {
	const received: ReceivedWebhook[] = [];
	const counts = new Map<string, number>();
	const server = createServer((request, response) => {
		const url = new URL(request.url ?? '/', 'http://receiver');
		if (url.pathname === '/__received') {
			const path = url.searchParams.get('path');
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(received.filter((r) => r.path === path)));
			return;
		}
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
			received.push({ path: url.pathname, headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
			const seen = (counts.get(url.pathname) ?? 0) + 1;
			counts.set(url.pathname, seen);
			const [, kind, arg] = url.pathname.split('/');
			if (kind === 'slow') {
				setTimeout(() => response.writeHead(200).end('late'), 15_000);
				return;
			}
			if (kind === 'fail' && seen <= Number(arg)) {
				response.writeHead(500, { 'content-type': 'text/plain' }).end(`temporarily broken (${seen}) ${'x'.repeat(2000)}`);
				return;
			}
			if (kind === 'status') {
				response.writeHead(Number(arg), { 'content-type': 'text/plain' }).end(`answered ${arg}`);
				return;
			}
			response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	project.provide('webhookOrigin', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
	return async () => {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	};
}
