/**
 * A bench-only Worker (bench/inbound/wrangler.toml) that runs, on the same bytes, either the
 * real inbound handler or its bare floor (postal-mime parse + mailauth authenticate), so that
 * bench/inbound/run.mjs can compare them from outside: time inside workerd does not advance
 * while code runs, so the comparison is made on wall time over loopback, with an empty
 * endpoint measuring the HTTP overhead both share.
 */
import { authenticate } from 'mailauth';
import PostalMime from 'postal-mime';
import { createCachingResolver, createDohResolver, toMailauthResolver } from '../../worker/dns/doh-resolver';
import { handleInbound } from '../../worker/inbound/handle-email';
import { servicesFrom } from '../../worker/services';

interface BenchEnv extends Env {
	BENCH_ADDRESS: string;
}

export default {
	async fetch(request: Request, env: BenchEnv): Promise<Response> {
		const { pathname } = new URL(request.url);
		if (pathname === '/setup') {
			const at = new Date().toISOString();
			await env.DB.batch([
				env.DB.prepare("INSERT OR IGNORE INTO integrations (id, name, version, created_at, updated_at) VALUES ('bench', 'Bench', 1, ?1, ?1)").bind(at),
				env.DB.prepare(
					"INSERT OR IGNORE INTO mailboxes (id, integration_id, name, description, address, smtp_host, smtp_port, smtp_username, smtp_password, smtp_encryption, manual_forward, version, created_at, updated_at) " +
						"VALUES ('bench', 'bench', 'Bench', '', ?1, 'smtp.example.com', 587, 'u', 'v1.x.y', 'starttls', 'accept', 1, ?2, ?2)"
				).bind(env.BENCH_ADDRESS, at)
			]);
			return new Response('ok');
		}
		const raw = new Uint8Array(await request.arrayBuffer());
		if (pathname === '/empty') return new Response(String(raw.byteLength));
		if (pathname === '/floor') {
			const parsed = await PostalMime.parse(raw);
			const resolver = toMailauthResolver(createCachingResolver(createDohResolver({ url: env.DNS_RESOLVER_URL })));
			await authenticate(Buffer.from(raw), { resolver, ip: '192.0.2.1', helo: 'mail.example.org', sender: 'customer@example.org', mta: 'bench', disableBimi: true });
			return new Response(parsed.subject ?? '');
		}
		if (pathname === '/handler' || pathname === '/handler-without-storage') {
			// The second variant answers the handler's D1 reads from memory, pretends its writes
			// succeeded and drops the archive writes, to tell the pipeline's own work from its storage I/O.
			// A stream (the attachments' parts, through a FixedLengthStream) is read to its end, as R2
			// would: its writer waits for that, and workerd cancels a request that waits forever.
			const noArchive = {
				put: async (_key: string, value: unknown) => {
					if (value instanceof ReadableStream) await value.pipeTo(new WritableStream());
					return null;
				},
				delete: async () => {}
			} as unknown as R2Bucket;
			const services = servicesFrom(env);
			const bench = pathname === '/handler' ? services : { ...services, db: replayingDb(services.db), archive: noArchive };
			const logged = await handleInbound(
				{ from: 'customer@example.org', to: env.BENCH_ADDRESS, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject: () => {} },
				bench
			);
			return new Response(logged?.verdict ?? 'none');
		}
		return new Response('not found', { status: 404 });
	}
};

/** What each read statement (by its SQL and method) answered the first time it was asked. */
const answers = new Map<string, unknown>();
const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/**
 * A D1 stand-in for whatever the handler asks, so that a new query in the handler does not
 * break the bench: a read goes to the real D1 the first time its SQL is asked and is answered
 * from memory after that (the bench's messages differ only in their Message-ID, which no read
 * of a fresh message finds); a write touches nothing and reports one row changed. It used to
 * answer every read with the mailbox row, and broke when the handler began to batch its writes
 * and to read the integration's webhook.
 */
function replayingDb(db: D1Database): D1Database {
	const statement = (sql: string, values: unknown[] = []): D1PreparedStatement => {
		const written = { success: true, results: [], meta: { changes: 1, last_row_id: 0, rows_read: 0, rows_written: 1, duration: 0 } };
		// The answer is kept, not the promise: workerd cancels a request that waits on I/O begun by another.
		const read = async <T>(method: string, ask: (real: D1PreparedStatement) => Promise<T>): Promise<T> => {
			const key = `${method}\u0000${sql}`;
			if (!answers.has(key)) answers.set(key, await ask(db.prepare(sql).bind(...values)));
			return answers.get(key) as T;
		};
		const self = {
			sql,
			bind: (...next: unknown[]) => statement(sql, next),
			first: (column?: string) => (WRITE.test(sql) ? Promise.resolve(null) : read(`first:${column ?? ''}`, (real) => real.first(column as string))),
			all: () => (WRITE.test(sql) ? Promise.resolve(written) : read('all', (real) => real.all())),
			raw: () => (WRITE.test(sql) ? Promise.resolve([]) : read('raw', (real) => real.raw())),
			run: () => (WRITE.test(sql) ? Promise.resolve(written) : read('run', (real) => real.run()))
		};
		return self as unknown as D1PreparedStatement;
	};
	return {
		prepare: (sql: string) => statement(sql),
		batch: (statements: D1PreparedStatement[]) => Promise.all(statements.map((one) => one.all())),
		exec: () => Promise.reject(new Error('bench D1 stand-in: exec() is not expected from the inbound handler'))
	} as unknown as D1Database;
}
