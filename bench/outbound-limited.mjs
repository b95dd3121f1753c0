// SPEC §15's bench row (`node bench/outbound.mjs --limited`, not part of the smoke run: it takes
// over three minutes): COUNT replies (100) to one mailbox under `wrangler dev`, through a real
// smtp-server on loopback that enforces Microsoft 365's limits for the account: 3 sessions at
// once (`432 4.3.2 Concurrent connections limit exceeded` at AUTH) and 30 messages in any 60
// seconds (`421 4.7.0` at the data). The mailbox says so with `smtp.limits` { concurrent: 3,
// perMinute: 30 }. Every reply must end `sent` with no refusal; the figure is the time from the
// first POST to the COUNT-th message the server accepted, against the floor the rate sets
// (COUNT / 30 minutes: 200 s for 100). BENCH_LIMITED_COUNT=N sends N instead; BENCH_LIMITED_TRACE=1
// prints the counts every second. wrangler dev reloads the Worker when a watched file changes,
// and the local queue loses its delayed messages then (the held replies): run it on a tree
// nobody is editing.
import { SMTPServer } from 'smtp-server';
import { startLocalServer } from '../scripts/local-harness.mjs';

const COUNT = Number(process.env.BENCH_LIMITED_COUNT ?? 100);
const CONCURRENT = 3;
const PER_MINUTE = 30;
const WINDOW_MS = 60_000;
const USER = 'support@bench.example.com';
const PASSWORD = 'bench-password';
/** The longest wait for every reply to be sent: the floor and a generous margin. */
const SEND_TIMEOUT_MS = ((COUNT / PER_MINUTE) * WINDOW_MS) * 2;

/** @type {number[]} */
const accepted = [];
/** @type {Array<{ at: number, code: number }>} */
const refusals = [];
let open = 0;
let maxOpen = 0;
let sessions = 0;
const smtp = new SMTPServer({
	logger: false,
	disableReverseLookup: true,
	allowInsecureAuth: true,
	authMethods: ['PLAIN', 'LOGIN'],
	hideSTARTTLS: true,
	onAuth(auth, _session, callback) {
		if (auth.password !== PASSWORD) return callback(Object.assign(new Error('5.7.8 Authentication failed'), { responseCode: 535 }));
		if (open >= CONCURRENT) {
			refusals.push({ at: Date.now(), code: 432 });
			return callback(Object.assign(new Error('4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.'), { responseCode: 432 }));
		}
		open++;
		sessions++;
		maxOpen = Math.max(maxOpen, open);
		callback(null, { user: auth.username });
	},
	onClose(session) {
		if (session.user) open--;
	},
	onData(stream, _session, callback) {
		stream.resume();
		stream.on('end', () => {
			const at = Date.now();
			if (accepted.filter((t) => t > at - WINDOW_MS).length >= PER_MINUTE) {
				refusals.push({ at, code: 421 });
				return callback(Object.assign(new Error('4.7.0 Message rate limit exceeded. Try again later.'), { responseCode: 421 }));
			}
			accepted.push(at);
			callback();
		});
	}
});
smtp.on('error', (error) => console.error(`[smtp] ${error.message}`));
await new Promise((resolve) => smtp.listen(0, '127.0.0.1', () => resolve(undefined)));
const smtpPort = /** @type {import('node:net').AddressInfo} */ (smtp.server.address()).port;

const server = await startLocalServer({ extraVars: { RATE_LIMITS: 'outbound-mailbox=100000,outbound-key=100000' } });
const headers = { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' };
/** @param {string} method @param {string} path @param {unknown} [body] */
const api = async (method, path, body) => {
	const response = await fetch(`${server.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	return (await server.check(response, `${method} ${path}`)).json();
};

try {
	const integration = await api('POST', '/api/integrations', { name: 'Bench' });
	const mailbox = await api('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name: 'Bench Support',
		address: 'limited@bench.example.com',
		smtp: { host: '127.0.0.1', port: smtpPort, username: USER, password: PASSWORD, encryption: 'none', limits: { concurrent: CONCURRENT, perMinute: PER_MINUTE } }
	});
	const started = Date.now();
	let next = 0;
	await Promise.all(
		Array.from({ length: 10 }, async () => {
			while (next < COUNT) {
				const i = next++;
				await api('POST', `/api/mailboxes/${mailbox.id}/outbound`, { to: [`customer-${i}@example.org`], subject: `Re: Order ${1000 + i}`, text: `Hello,\r\n\r\nYour order ${1000 + i} is on its way.\r\n` });
			}
		})
	);
	const posted = Date.now() - started;
	const deadline = started + SEND_TIMEOUT_MS;
	/** @type {any[]} */
	let items = [];
	for (;;) {
		items = [];
		let cursor = null;
		do {
			const page = await api('GET', `/api/outbound?mailboxId=${mailbox.id}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
			items.push(...page.items);
			cursor = page.nextCursor;
		} while (cursor);
		const bad = items.filter((item) => !['queued', 'sending', 'sent'].includes(item.status));
		if (bad.length > 0) throw new Error(`${bad.length} item(s) not sent, e.g. ${bad[0].status}: ${bad[0].attempts.at(-1)?.hint}`);
		if (items.length === COUNT && items.every((item) => item.status === 'sent')) break;
		if (process.env.BENCH_LIMITED_TRACE) {
			const counts = {};
			for (const item of items) counts[item.status] = (counts[item.status] ?? 0) + 1;
			console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: ${accepted.length} accepted ${JSON.stringify(counts)}`);
		}
		if (Date.now() > deadline) {
			const waiting = items.filter((item) => item.status !== 'sent').slice(0, 5).map((item) => `${item.status} ${item.nextAttemptAt} ${item.attempts.length}`);
			throw new Error(`not all sent in ${SEND_TIMEOUT_MS / 1000} s: ${accepted.length} accepted; waiting: ${waiting.join('; ')}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
	const sorted = [...accepted].sort((a, b) => a - b);
	const elapsed = /** @type {number} */ (sorted.at(-1)) - started;
	const inAnyWindow = Math.max(...sorted.map((at) => sorted.filter((t) => t >= at && t < at + WINDOW_MS).length));
	const floor = (COUNT / PER_MINUTE) * WINDOW_MS;
	const attempts = items.reduce((n, item) => n + item.attempts.length, 0);
	console.log(`\nSPEC §15: ${COUNT} replies, one mailbox, a provider allowing ${CONCURRENT} sessions and ${PER_MINUTE} messages a minute`);
	console.log(`  sent:                     ${items.filter((item) => item.status === 'sent').length} of ${COUNT} (attempts recorded: ${attempts})`);
	console.log(`  refusals (432 / 421):     ${refusals.filter((r) => r.code === 432).length} / ${refusals.filter((r) => r.code === 421).length}`);
	console.log(`  most sessions at once:    ${maxOpen} (${sessions} sessions in all)`);
	console.log(`  most messages in 60 s:    ${inAnyWindow}`);
	console.log(`  all POSTed in:            ${(posted / 1000).toFixed(1)} s`);
	console.log(`  first POST to last sent:  ${(elapsed / 1000).toFixed(1)} s = ${(elapsed / floor).toFixed(3)}x the ${floor / 1000} s floor`);
	if (refusals.length > 0 || accepted.length !== COUNT) process.exitCode = 1;
} catch (error) {
	console.error(`--- wrangler dev output ---\n${server.output()}`);
	throw error;
} finally {
	await server.stop();
	smtp.close();
}
