/**
 * Global setup (Node): a DNS-over-HTTPS server on loopback that answers the JSON API
 * (`GET /dns-query?name=…&type=…`, as Cloudflare's resolver does) from a zone table the
 * tests fill, so the Worker's resolver and mailauth run against real HTTP, not a mocked module.
 *
 * Control endpoints for the tests:
 * - `POST /zone` with `{ "records": [{ "name", "type", "data" }] }` adds records; `data` is sent
 *   as it is, in presentation format (TXT quoted: `"\"v=spf1 -all\""`).
 * - `GET /queries?suffix=example.test` lists the questions received for names under a suffix.
 * Tests share this server, so each test file uses its own random zone under `.test`.
 *
 * Special first labels: `servfail.…` answers SERVFAIL (Status 2), `refused.…` REFUSED
 * (Status 5), `http500.…` an HTTP 500, `badjson.…` a body that is not JSON, and `hang.…`
 * never answers (the connection stays open until the run ends).
 * Any other name answers NXDOMAIN (Status 3) unless the zone has it or a name under it
 * (an empty non-terminal exists, RFC 8020), and NOERROR with no records (NODATA) otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
	export interface ProvidedContext {
		dohOrigin: string;
	}
}

interface ZoneRecord {
	name: string;
	type: string;
	data: string;
}

const TYPE_NUMBERS: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
/** Followed CNAMEs per answer, as a recursive resolver caps them. */
const MAX_CNAME_CHAIN = 8;

const normalize = (name: string) => name.replace(/\.$/, '').toLowerCase();

function answerQuestion(zone: ZoneRecord[], qname: string, qtype: string) {
	const type = qtype.toUpperCase();
	const answer: Array<{ name: string; type: number; TTL: number; data: string }> = [];
	const toAnswer = (record: ZoneRecord) => ({ name: record.name, type: TYPE_NUMBERS[record.type] ?? 0, TTL: 300, data: record.data });
	let owner = normalize(qname);
	for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
		const owned = zone.filter((record) => normalize(record.name) === owner);
		const matching = owned.filter((record) => record.type === type);
		if (matching.length > 0) {
			answer.push(...matching.map(toAnswer));
			return { Status: 0, Answer: answer };
		}
		const alias = owned.find((record) => record.type === 'CNAME');
		if (!alias) break;
		answer.push(toAnswer(alias));
		owner = normalize(alias.data);
	}
	const exists = zone.some((record) => normalize(record.name) === owner || normalize(record.name).endsWith(`.${owner}`));
	return { Status: exists ? 0 : 3, ...(answer.length ? { Answer: answer } : {}) };
}

/** Starts the server on a free loopback port; the browser tests start one too. */
export async function startDohServer(): Promise<{ origin: string; close: () => Promise<void> }> {
	const zone: ZoneRecord[] = [];
	const queries: Array<{ name: string; type: string }> = [];
	const hanging = new Set<ServerResponse>();

	const json = (response: ServerResponse, status: number, body: unknown, contentType = 'application/dns-json') => {
		response.writeHead(status, { 'content-type': contentType });
		response.end(JSON.stringify(body));
	};
	const readBody = async (request: IncomingMessage) => {
		const chunks: Buffer[] = [];
		for await (const chunk of request) chunks.push(chunk as Buffer);
		return Buffer.concat(chunks).toString('utf8');
	};

	const server = createServer(async (request, response) => {
		const url = new URL(request.url ?? '/', 'http://localhost');
		if (url.pathname === '/zone' && request.method === 'POST') {
			let records: ZoneRecord[];
			try {
				({ records } = JSON.parse(await readBody(request)) as { records: ZoneRecord[] });
			} catch {
				return json(response, 400, { error: 'expected { records: [...] }' }, 'application/json');
			}
			zone.push(...records.map((record) => ({ ...record, type: record.type.toUpperCase() })));
			return json(response, 200, { added: records.length }, 'application/json');
		}
		if (url.pathname === '/queries' && request.method === 'GET') {
			const suffix = normalize(url.searchParams.get('suffix') ?? '');
			return json(response, 200, queries.filter((query) => normalize(query.name).endsWith(suffix)), 'application/json');
		}
		if (url.pathname !== '/dns-query' || request.method !== 'GET') return json(response, 404, { error: 'not found' }, 'application/json');

		const name = url.searchParams.get('name') ?? '';
		const type = url.searchParams.get('type') ?? 'A';
		queries.push({ name, type });
		if (request.headers.accept !== 'application/dns-json') return json(response, 415, { error: 'accept application/dns-json' });
		const question = [{ name, type: TYPE_NUMBERS[type.toUpperCase()] ?? 0 }];
		switch (normalize(name).split('.')[0]) {
			case 'hang':
				hanging.add(response);
				response.on('close', () => hanging.delete(response));
				return;
			case 'servfail':
				return json(response, 200, { Status: 2, Question: question });
			case 'refused':
				return json(response, 200, { Status: 5, Question: question });
			case 'http500':
				return json(response, 500, { error: 'internal' }, 'application/json');
			case 'badjson':
				response.writeHead(200, { 'content-type': 'application/dns-json' });
				return response.end('{"Status": 0, "Answer": [');
		}
		json(response, 200, { TC: false, RD: true, RA: true, AD: false, CD: false, Question: question, ...answerQuestion(zone, name, type) });
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		origin: `http://127.0.0.1:${port}`,
		close: async () => {
			for (const response of hanging) response.destroy();
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		}
	};
}

export default async function setup(project: TestProject) {
	const server = await startDohServer();
	project.provide('dohOrigin', server.origin);
	return server.close;
}
