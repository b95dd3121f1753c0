/**
 * Runs in Node before the workerd tests: serves a Cloudflare Access-style JWKS on loopback
 * (`/cdn-cgi/access/certs`) and hands its origin and the matching private key to the tests,
 * so Access JWTs are verified against real keys fetched over HTTP, not a mocked module.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
	export interface ProvidedContext {
		accessJwksOrigin: string;
		accessPrivateJwk: string;
	}
}

export default async function setup(project: TestProject) {
	const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
	const publicJwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
	const privateJwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256' };
	const requests: string[] = [];
	const server = createServer((request, response) => {
		requests.push(request.url ?? '');
		if (request.url === '/cdn-cgi/access/certs') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify({ keys: [publicJwk] }));
		} else {
			response.writeHead(404).end();
		}
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	project.provide('accessJwksOrigin', `http://127.0.0.1:${port}`);
	project.provide('accessPrivateJwk', JSON.stringify(privateJwk));
	return async () => {
		await new Promise<void>((resolve) => server.close(() => resolve()));
	};
}
