/**
 * issue 18: email-reply-parser's "DATE ... from NAME <EMAIL>:" pattern,
 * `/^(.*)[0-9]{4}(.*)from(.*)<(.*)>:$/`, backtracks in the cube of a line's length when it
 * fails. Four such lines of 900 characters (3.6 KB, inside the scan window) cost the bare
 * parser seconds, and `message.received` runs it for every accepted message. Timed here on
 * extractReply() alone and through the real email() handler with a webhook target.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { extractReply, REPLY_SCAN_CHARS, REPLY_SCAN_LINE_CHARS } from '../../worker/webhooks/reply-text';
import { buildMessage } from './build-message';
import { handOver } from './deliver';
import { call, createIntegration, mailboxInput, unique } from './helpers';

vi.setConfig({ testTimeout: 60_000 });

/**
 * A line the pattern must fail on at the greatest cost: a third digits (every start of a
 * four-digit run), a third "from"s, a third "<"s, and no ">:" at the end, so every
 * (digits, from, <) triple is tried.
 */
function hostileLine(length: number): string {
	const third = Math.floor(length / 3);
	return `${'1'.repeat(third)}${'from'.repeat(Math.floor(third / 4))}${'<'.repeat(third)}`.padEnd(length, '<');
}

/** Lines of `length` separated by blank lines (the parser tests a line against the quote headers when a blank line follows it), `total` characters at most. */
function hostileText(length: number, total: number): string {
	const count = Math.floor((total + 1) / (length + 2));
	return Array.from({ length: count }, () => hostileLine(length)).join('\n\n');
}

/** What the bare parser took seconds for (crafted for the pattern; 3.6 KB). */
const PAYLOAD = hostileText(900, 3_700);

/**
 * The fastest of three runs: a pause of the machine (the browser suite runs beside this one in
 * `npm test`; a garbage collection) lengthens one run, never all three, while the backtracking the
 * test is for costs every run the same (seconds).
 */
function timed<T>(run: () => T): { value: T; ms: number } {
	let best = Number.POSITIVE_INFINITY;
	let value = run();
	for (let i = 0; i < 3; i++) {
		const started = performance.now();
		value = run();
		best = Math.min(best, performance.now() - started);
	}
	return { value, ms: best };
}

/**
 * Far below the seconds the bare parser takes on 900-character lines, and above what the
 * browser suite running beside this one in `npm test` adds (a 199-character case measured 117 ms
 * there, the fastest of three).
 */
const FAST_MS = 1_000;

describe('extractReply against the "DATE ... from NAME <EMAIL>:" pattern', () => {
	it('takes milliseconds, not seconds, on four 900-character lines crafted for it', () => {
		expect(PAYLOAD.length).toBeGreaterThan(3_500);
		expect(PAYLOAD.length).toBeLessThanOrEqual(REPLY_SCAN_CHARS);
		expect(PAYLOAD.split('\n\n')).toHaveLength(4);
		const { value, ms } = timed(() => extractReply(PAYLOAD));
		// Nothing in it is a quote or a signature: the text is the reply, unchanged.
		expect(value).toBe(PAYLOAD);
		// The parser took 6-8 s here; the bound leaves room for a loaded machine.
		expect(ms).toBeLessThan(FAST_MS);
	});

	it('stays fast for the same lines at every length the parser still reads whole', () => {
		for (const length of [REPLY_SCAN_LINE_CHARS, REPLY_SCAN_LINE_CHARS - 1, Math.floor(REPLY_SCAN_LINE_CHARS / 2), 80]) {
			const text = hostileText(length, REPLY_SCAN_CHARS);
			const { value, ms } = timed(() => extractReply(text));
			expect(value, `${length}`).toBe(text);
			expect(ms, `${length}-character lines`).toBeLessThan(FAST_MS);
		}
	});

	it('still finds a quote header of that shape, and keeps "from" in the text', () => {
		const header = 'Le 30/11/2026 09:12, message from Acme Support <support@acme.example.com>:';
		const text = `Thanks, 2026 from me <3\n\n${header}\n\n> How can we help?\n`;
		expect(extractReply(text)).toBe('Thanks, 2026 from me <3');
	});
});

describe('message.received through email()', () => {
	it('builds the event for the crafted message about as fast as for a plain one', async () => {
		const integration = await createIntegration();
		const path = `/ok/${unique('redos')}`;
		const hook = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}${path}` } } });
		expect(hook.status, hook.text).toBe(200);
		const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id) });
		expect(created.status, created.text).toBe(201);
		const address = created.body.address as string;

		const deliverText = async (text: string) => {
			const raw = buildMessage({ messageId: `${unique('redos')}@customer.example`, to: address, parts: [{ body: text }] });
			const started = performance.now();
			const { rejected } = await handOver(raw, { from: 'alice@customer.example', to: address, hopIp: '192.0.2.44' });
			const ms = performance.now() - started;
			expect(rejected).toBeNull();
			return ms;
		};
		// The same size of ordinary prose, twice (the first warms the Worker up).
		const prose = Array.from({ length: 4 }, () => 'The parcel arrived with a dent in the lid. '.repeat(21).trim()).join('\n\n');
		await deliverText(prose);
		const plain = await deliverText(prose);
		const hostile = await deliverText(PAYLOAD);

		// The event was built (and the reply extracted) for the crafted message.
		const deadline = Date.now() + 20_000;
		let received: Array<{ body: string }> = [];
		while (received.length < 3 && Date.now() < deadline) {
			await new Promise((resolve) => setTimeout(resolve, 150));
			received = (await (await fetch(`${env.WEBHOOK_TEST_ORIGIN}/__received?path=${encodeURIComponent(path)}`)).json()) as Array<{ body: string }>;
		}
		const replies = received.map((entry) => (JSON.parse(entry.body) as { data: { reply: string } }).data.reply);
		expect(replies).toContain(PAYLOAD);

		// Before the fix the crafted message took seconds against a fraction of one for prose.
		expect(hostile, `crafted ${hostile.toFixed(0)} ms, prose ${plain.toFixed(0)} ms`).toBeLessThan(plain * 3 + 250);
	});
});
