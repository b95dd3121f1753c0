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
			// The second variant answers the handler's two D1 queries from memory and drops the
			// archive write, to tell the pipeline's own work from its storage I/O.
			const noArchive = { put: async () => null, delete: async () => {} } as unknown as R2Bucket;
			const bench = pathname === '/handler' ? env : { ...env, DB: await inMemoryDb(env), MAIL_ARCHIVE: noArchive };
			const logged = await handleInbound(
				{ from: 'customer@example.org', to: env.BENCH_ADDRESS, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject: () => {} },
				bench
			);
			return new Response(logged?.verdict ?? 'none');
		}
		return new Response('not found', { status: 404 });
	}
};

let mailboxRow: unknown = null;

/** A D1 stand-in for the handler's two queries: the bench mailbox row (read once), and an insert that succeeds. */
async function inMemoryDb(env: BenchEnv): Promise<D1Database> {
	mailboxRow ??= await env.DB.prepare('SELECT * FROM mailboxes WHERE id = ?1').bind('bench').first();
	const row = mailboxRow;
	const statement = {
		bind: () => statement,
		first: async () => row,
		run: async () => ({ meta: { changes: 1 } })
	};
	return { prepare: () => statement } as unknown as D1Database;
}
