#!/usr/bin/env node
// The email log's queries at scale: `GET /api/messages` unfiltered, 50 pages deep by cursor and
// under each filter, plus `GET /api/mailbox-health` and `GET /api/messages/garbled-senders`, over
// a local D1 holding ROWS log rows, one request at a time under `wrangler dev` (local workerd and
// local D1), timed from Node over loopback. The rows (20 mailboxes, 5% refused recipients, 85/5/10%
// accepted/quarantined/rejected, ~2,000 senders on 300 domains, 30 days, ~2 KB headers each) are
// generated inside SQLite by one INSERT … SELECT, loaded before wrangler dev starts. Prints p50/p95/max
// per case, then SQLite's EXPLAIN QUERY PLAN for each query shape (the Worker's own SQL from
// worker/db/messages.ts, recorded with its values written in). Figures are for comparing changes on one machine, not production numbers.
// Run after `npm run build`: node bench/log-query.mjs [rows=100000]
// (BENCH_SMOKE=1: 1,000 rows, 3 samples each, and a plan that cannot be explained fails; npm run test:bench)
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { ROOT, startLocalServer } from '../scripts/local-harness.mjs';
import { timingCells } from './figures.mjs';

const SMOKE = process.env.BENCH_SMOKE === '1';
const ROWS = Number(process.argv[2] ?? (SMOKE ? 1_000 : 100_000));
const WARM_UP = SMOKE ? 1 : 3;
const SAMPLES = SMOKE ? 3 : 30;
const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = Date.now();

// Every (ROWS / 3)th row comes from this sender (Message-ID `<n@d7.example>`), the first one
// quarantined: a sender with 3 messages.
const RARE_EVERY = Math.floor(ROWS / 3);
const RARE_SENDER = 'rare.sender@d7.example';
/** The most frequent sender (about 2% of the rows). */
const HEAVY_SENDER = 'user0@d0.example';
const mailboxes = Array.from({ length: 20 }, (_, i) => ({ id: randomUUID(), address: `support-${i}@bench.example.com` }));
const dayStart = Math.floor(NOW / DAY_MS - 10) * DAY_MS;

/**
 * @typedef {object} Filters the query string of `GET /api/messages`
 * @property {string} [mailboxId]
 * @property {string} [messageId]
 * @property {string} [from]
 * @property {string} [verdict]
 * @property {string} [since]
 * @property {string} [until]
 * @property {string} [cursor]
 */
/** @type {Array<{ name: string, filters: Filters }>} */
const LIST_CASES = [
	{ name: 'no filter (first page)', filters: {} },
	{ name: 'mailboxId', filters: { mailboxId: mailboxes[10]?.id } },
	{ name: 'mailboxId=none (refused)', filters: { mailboxId: 'none' } },
	{ name: 'verdict=rejected', filters: { verdict: 'rejected' } },
	{ name: 'mailboxId + verdict=quarantined', filters: { mailboxId: mailboxes[10]?.id, verdict: 'quarantined' } },
	{ name: 'from (address)', filters: { from: 'user42@d42.example' } },
	{ name: 'from (address, busiest sender)', filters: { from: HEAVY_SENDER } },
	{ name: 'from (domain)', filters: { from: 'd17.example' } },
	{ name: 'messageId', filters: { messageId: `<${RARE_EVERY}@d7.example>` } },
	{ name: 'since + until (one day)', filters: { since: new Date(dayStart).toISOString(), until: new Date(dayStart + DAY_MS).toISOString() } },
	{ name: 'rare: from + verdict=quarantined', filters: { from: RARE_SENDER, verdict: 'quarantined' } }
];

// ---------------------------------------------------------------------------------------
// The seed

const sqlString = (/** @type {string} */ value) => `'${value.replaceAll("'", "''")}'`;
/**
 * A template whose `${…}` parts are SQL expressions, as one SQL string concatenation.
 * @param {TemplateStringsArray} strings
 * @param {string[]} expressions
 */
const concat = (strings, ...expressions) =>
	strings.map((text, i) => (i < expressions.length ? `${sqlString(text)} || ${expressions[i]} || ` : sqlString(text))).join('');

const base64 = (/** @type {number} */ bytes) => randomBytes(bytes).toString('base64');
// A header block as Email Routing delivers it, CRLF line ends, about 2 KB.
const HEADERS = concat`Received: from mail.${'domain'} (mail.${'domain'} [${'ip'}])
	by mx.cloudflare.net (Postfix) with ESMTPS id ${'n'}
	for <${'envelope_to'}>; ${'date'}
Received: by mail.${'domain'} with SMTP id ${'n'}.${'s'}; ${'date'}
ARC-Seal: i=1; a=rsa-sha256; t=1763633472; cv=none; d=${'domain'}; s=arc-2024;
	b=${sqlString(base64(128))}
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=${'domain'}; s=arc-2024;
	h=from:to:subject:date:message-id:mime-version:content-type; bh=${sqlString(base64(32))};
	b=${sqlString(base64(128))}
ARC-Authentication-Results: i=1; mx.cloudflare.net; spf=${'auth'} smtp.mailfrom=${'envelope_from'};
	dkim=${'auth'} header.d=${'domain'}; dmarc=${'auth'} header.from=${'domain'}
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${'domain'}; s=s1; t=1763633472;
	h=from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe;
	bh=${sqlString(base64(32))};
	b=${sqlString(base64(256))}
MIME-Version: 1.0
From: "${'from_name'}" <${'sender'}>
To: <${'envelope_to'}>
Subject: ${'subject'}
Date: ${'date'}
Message-ID: <${'message_id'}>
Content-Type: multipart/alternative; boundary="b1_${'n'}"
List-Unsubscribe: <https://${'domain'}/unsubscribe/${'n'}>, <mailto:unsubscribe@${'domain'}>
X-Mailer: Bench Mailer 4.2 (https://${'domain'}/mailer)
X-Campaign-Id: ${sqlString(base64(96))}
`.replaceAll('\n', '\r\n');

const SEED = `
INSERT INTO integrations (id, name, created_at, updated_at) VALUES ('bench-integration', 'Bench', '${new Date(NOW).toISOString()}', '${new Date(NOW).toISOString()}');
INSERT INTO mailboxes (id, integration_id, name, address, smtp_host, smtp_port, smtp_username, smtp_password, smtp_encryption, created_at, updated_at) VALUES
${mailboxes.map((m, i) => `('${m.id}', 'bench-integration', 'Support ${i}', '${m.address}', 'smtp.bench.example.com', 587, '${m.address}', 'v1.bench.bench', 'starttls', '${new Date(NOW).toISOString()}', '${new Date(NOW).toISOString()}')`).join(',\n')};
INSERT INTO messages (id, mailbox_id, message_id, envelope_from, envelope_to, from_address, from_name, subject, received_at, size,
  verdict, reason, spf, dkim, dmarc, arc, auth_details, forwarding, forwarding_evidence, charsets, garbled, blank, encoding_findings,
  headers, text, html, attachments)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${ROWS}),
-- Multiplicative hashes of n (24 high bits), so every run generates the same rows.
h AS (
  SELECT n, ((n * 2654435761) % 4294967296) >> 8 AS h1, ((n * 2246822519) % 4294967296) >> 8 AS h2,
    ((n * 3266489917) % 4294967296) >> 8 AS h3, ((n * 668265263) % 4294967296) >> 8 AS h4,
    ((n * 374761393) % 4294967296) >> 8 AS h5, (n * 1597334677) % 4294967296 AS h6
  FROM seq
),
boxes(i, id, address) AS (VALUES ${mailboxes.map((m, i) => `(${i}, '${m.id}', '${m.address}')`).join(', ')}),
-- s: the sender (skewed: a few send much, most little); box: the mailbox (skewed too), NULL for 5%.
d AS (
  SELECT n, h5 % 100 AS e, (h5 >> 8) % 100 AS f, (h3 >> 12) % 4 AS k, 2400 + (h6 >> 8) % 60000 AS size,
    CASE WHEN n % ${RARE_EVERY} = 0 THEN -1 ELSE CAST(2000 * (h4 / 16777216.0) * (h4 / 16777216.0) AS INTEGER) END AS s,
    CASE WHEN n % ${RARE_EVERY} = 0 THEN 0 WHEN h1 % 100 < 5 THEN NULL ELSE CAST(20 * (h2 / 16777216.0) * (h2 / 16777216.0) AS INTEGER) END AS box,
    CASE WHEN n % ${RARE_EVERY} = 0 THEN CASE n WHEN ${RARE_EVERY} THEN 900 ELSE 0 END ELSE h3 % 1000 END AS v,
    (${NOW} - h6 % ${30 * DAY_MS}) / 1000.0 AS t
  FROM h
),
m AS (
  SELECT d.*, boxes.id AS mailbox_id,
    CASE WHEN s < 0 THEN 'Rare Sender' ELSE 'Customer ' || s END AS from_name,
    coalesce(boxes.address, CASE n % 4 WHEN 0 THEN 'support-1+urgent@bench.example.com' WHEN 1 THEN 'sales@bench.example.com' ELSE 'info@bench.example.com' END) AS envelope_to,
    CASE WHEN boxes.id IS NULL THEN 'rejected' WHEN v < 895 THEN 'accepted' WHEN v < 948 THEN 'quarantined' ELSE 'rejected' END AS verdict,
    strftime('%Y-%m-%dT%H:%M:%fZ', t, 'unixepoch') AS received_at,
    substr('SunMonTueWedThuFriSat', 3 * strftime('%w', t, 'unixepoch') + 1, 3) || ', ' || strftime('%d', t, 'unixepoch') || ' ' ||
      substr('JanFebMarAprMayJunJulAugSepOctNovDec', 3 * strftime('%m', t, 'unixepoch') - 2, 3) || strftime(' %Y %H:%M:%S +0000', t, 'unixepoch') AS date,
    CASE n % 5 WHEN 0 THEN 'Order #' || n || ': where is my parcel?' WHEN 1 THEN 'Re: Invoice ' || (n * 7 % 100000)
      WHEN 2 THEN 'Password reset does not work' WHEN 3 THEN 'Rückfrage zu Ihrer Bestellung ' || n ELSE 'Question about ticket ' || (n % 9000) END AS subject
  FROM d LEFT JOIN boxes ON boxes.i = d.box
),
-- A quarter of the rejections are manual forwards (authenticated); the rest, and every
-- quarantine, fail DMARC: spoofs of four domains.
a AS (
  SELECT m.*, verdict = 'rejected' AND mailbox_id IS NOT NULL AND k = 0 AS manual,
    s >= 0 AND (verdict = 'quarantined' OR (verdict = 'rejected' AND mailbox_id IS NOT NULL AND k <> 0)) AS spoof
  FROM m
),
b AS (
  SELECT a.*,
    CASE WHEN s < 0 THEN 'rare.sender' WHEN spoof THEN CASE n % 3 WHEN 0 THEN 'billing' WHEN 1 THEN 'security' ELSE 'no-reply' END ELSE 'user' || s END AS local_part,
    CASE WHEN s < 0 THEN 'd7.example' WHEN spoof THEN 'd' || CASE n % 4 WHEN 0 THEN 3 WHEN 1 THEN 17 WHEN 2 THEN 42 ELSE 123 END || '.example'
      ELSE 'd' || (s % 300) || '.example' END AS domain
  FROM a
),
r AS (
  SELECT b.*, local_part || '@' || domain AS sender,
    CASE WHEN f >= 90 THEN 'bounces' ELSE local_part END || '@' || domain AS envelope_from,
    n || '@' || domain AS message_id,
    '203.0.113.' || (abs(s) % 250) AS ip,
    CASE WHEN mailbox_id IS NULL THEN 'none' WHEN verdict = 'accepted' OR manual THEN 'pass' ELSE 'fail' END AS auth,
    verdict = 'accepted' AND f < 3 AS native
  FROM b
)
SELECT
  substr(x, 1, 8) || '-' || substr(x, 9, 4) || '-4' || substr(x, 14, 3) || '-' || substr(x, 17, 4) || '-' || substr(x, 21),
  mailbox_id, message_id, envelope_from, envelope_to, sender, from_name, subject, received_at, size, verdict,
  CASE
    WHEN mailbox_id IS NULL AND envelope_to LIKE '%+%' THEN '550 5.1.1 <' || envelope_to || '>: aliases (sub-addresses) are not supported; write to the service address itself'
    WHEN mailbox_id IS NULL THEN '550 5.1.1 <' || envelope_to || '>: this address is not a service address of this help desk'
    WHEN manual THEN ${sqlString("This message was forwarded by hand from a mail client, and this mailbox does not accept manual forwards. Use your mail server's own (native) forwarding instead: it keeps the original sender, recipient and signatures.")}
    WHEN verdict = 'rejected' THEN '550 5.7.1 Unauthenticated email from ' || domain || ' is not accepted due to domain''s DMARC policy'
    WHEN verdict = 'quarantined' THEN 'DMARC failed for ' || domain || ', whose policy is quarantine.'
  END,
  auth, auth, auth, CASE WHEN native THEN 'pass' ELSE 'none' END,
  json_object(
    'spf', json_object('result', auth, 'domain', domain, 'clientIp', ip, 'helo', 'mail.' || domain,
      'comment', 'mx.cloudflare.net: domain of ' || envelope_from || ' designates ' || ip || ' as permitted sender'),
    'dkim', CASE WHEN auth = 'none' THEN json('[]') ELSE json_array(json_object('domain', domain, 'selector', 's1', 'result', auth, 'aligned', json('true'), 'comment', NULL)) END,
    'dmarc', json_object('result', auth, 'domain', domain, 'policy', CASE WHEN verdict = 'quarantined' THEN 'quarantine' ELSE 'reject' END,
      'spfAligned', json(CASE auth WHEN 'pass' THEN 'true' ELSE 'false' END), 'dkimAligned', json(CASE auth WHEN 'pass' THEN 'true' ELSE 'false' END), 'comment', NULL),
    'arc', json_object('result', CASE WHEN native THEN 'pass' ELSE 'none' END, 'sealer', CASE WHEN native THEN 'forwarder.example' END, 'instance', native, 'comment', NULL)
  ),
  CASE WHEN manual THEN 'manual' WHEN native THEN 'native' ELSE 'none' END,
  CASE
    WHEN manual THEN json_array('The subject starts with "Fwd:" and the body quotes the original under "---------- Forwarded message ---------": someone forwarded it by hand from a mail client.')
    WHEN native THEN json_array('The envelope sender is forwarder.example, not the header From''s domain, and a valid ARC chain sealed by forwarder.example: forwarded by a server.')
    ELSE '[]'
  END,
  CASE e WHEN 0 THEN '["iso-8859-1"]' WHEN 1 THEN '[]' ELSE '["utf-8"]' END,
  e = 0, e = 1,
  CASE e
    WHEN 0 THEN json_array('The decoded text contains 6 mojibake sequences typical of UTF-8 read as Latin-1/Windows-1252 (''Ã¼'', ''Ã©'').')
    WHEN 1 THEN json_array('The message has no text or HTML body with visible content (it has 1 attachment).')
    ELSE '[]'
  END,
  ${HEADERS},
  CASE WHEN verdict <> 'rejected' AND e <> 1 THEN 'Hello,' || char(10, 10) || 'about ' || subject || ': I ordered on ' || substr(received_at, 1, 10) ||
    ' and have not heard back since. Could you please check the status and tell me when I can expect an answer? ' ||
    'The reference from your confirmation email is ' || n || '-' || s || '. I have attached the invoice in case you need it.' || char(10, 10) ||
    'Kind regards,' || char(10) || from_name || char(10, 10) || '-- ' || char(10) || 'Sent from ' || domain || ', ' || ip END,
  CASE WHEN verdict <> 'rejected' AND e <> 1 AND n % 2 = 0 THEN '<div><p>Hello,</p><p>about <b>' || subject || '</b>: I ordered on ' || substr(received_at, 1, 10) ||
    ' and have not heard back since. Could you please check the status?</p><p>Reference: <a href="https://' || domain || '/orders/' || n ||
    '" rel="noopener noreferrer nofollow">' || n || '</a></p><p>Kind regards,<br>' || from_name || '</p></div>' END,
  CASE WHEN verdict <> 'rejected' AND (e = 1 OR f BETWEEN 10 AND 19)
    THEN json_array(json_object('filename', 'invoice-' || n || '.pdf', 'contentType', 'application/pdf', 'size', 20000 + n % 50000)) ELSE '[]' END
FROM (SELECT r.*, lower(hex(randomblob(16))) AS x FROM r);
`;

/** The seeded table at a glance. */
const SUMMARY_SQL =
	"SELECT COUNT(*) AS rows, SUM(mailbox_id IS NULL) AS refused, SUM(verdict = 'accepted') AS accepted, SUM(verdict = 'quarantined') AS quarantined, " +
	"SUM(verdict = 'rejected') AS rejected, COUNT(DISTINCT reason) AS reasons, COUNT(DISTINCT from_address) AS senders, " +
	"COUNT(DISTINCT substr(from_address, instr(from_address, '@') + 1)) AS domains, SUM(garbled) AS garbled, SUM(blank) AS blank, " +
	'CAST(AVG(length(headers)) AS INTEGER) AS header_bytes, MIN(received_at) AS oldest, MAX(received_at) AS newest, ' +
	'SUM(length(headers) + length(auth_details) + coalesce(length(text), 0) + coalesce(length(html), 0)) AS text_bytes FROM messages';

// ---------------------------------------------------------------------------------------
// The query shapes, as worker/db/messages.ts builds them, with literal values

/**
 * The SQL the Worker runs, not a copy: worker/db/messages.ts is bundled with esbuild and its query
 * functions run against a D1 stand-in that records each statement and its bound values.
 */
const bundled = await build({ entryPoints: [path.join(ROOT, 'worker/db/messages.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false });
const queries = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0]?.text ?? '').toString('base64')}`);

/** @typedef {{ sql: string, values: unknown[] }} Recorded */
/** @param {Recorded[]} log */
function recordingD1(log) {
	/** @param {string} sql */
	const prepare = (sql) => {
		/** @type {Recorded & { bind: (...values: unknown[]) => unknown, all: () => Promise<{ results: never[] }> }} */
		const statement = {
			sql,
			values: [],
			bind: (...values) => ((statement.values = values), statement),
			all: async () => (log.push(statement), { results: [] })
		};
		return statement;
	};
	return { prepare, batch: async (/** @type {Recorded[]} */ statements) => (log.push(...statements), statements.map(() => ({ results: [] }))) };
}

/** A recorded statement with its `?N` parameters written in as literals, for EXPLAIN. */
const inline = (/** @type {Recorded} */ { sql, values }) =>
	sql.replace(/\?(\d+)/g, (_, n) => {
		const value = values[Number(n) - 1];
		return typeof value === 'number' ? String(value) : value === null ? 'NULL' : sqlString(String(value));
	});

/**
 * @param {(db: unknown) => Promise<unknown>} run
 * @returns {Promise<Recorded[]>}
 */
async function recorded(run) {
	/** @type {Recorded[]} */
	const log = [];
	await run(recordingD1(log));
	return log;
}

/** The API's list filters as listMessages takes them (`none`, Message-ID brackets, cursor). */
function listFilters(/** @type {Filters} */ f) {
	const after = f.cursor ? JSON.parse(atob(f.cursor)) : undefined;
	return {
		...f,
		mailboxId: f.mailboxId === 'none' ? null : f.mailboxId,
		messageId: f.messageId?.replace(/^<|>$/g, ''),
		cursor: undefined,
		after: after && { receivedAt: after[0], id: after[1] },
		limit: 51
	};
}

const listShape = async (/** @type {string} */ name, /** @type {Filters} */ f) => {
	const [statement] = await recorded((db) => queries.listMessages(db, listFilters(f)));
	return { name, sql: inline(/** @type {Recorded} */ (statement)) };
};
const since = { day: new Date(NOW - DAY_MS).toISOString(), month: new Date(NOW - 30 * DAY_MS).toISOString() };
const [healthCounts, healthReasons] = await recorded((db) => queries.mailboxHealth(db, since));
const [garbled] = await recorded((db) => queries.garbledSenders(db, since.month));
const SHAPES = [
	...(await Promise.all(LIST_CASES.map((c) => listShape(`messages: ${c.name}`, c.filters)))),
	await listShape('messages: no filter, after a cursor', {
		cursor: btoa(JSON.stringify([new Date(dayStart).toISOString(), 'ffffffff-ffff-4fff-bfff-ffffffffffff']))
	}),
	{ name: 'mailbox-health: counts', sql: inline(/** @type {Recorded} */ (healthCounts)) },
	{ name: 'mailbox-health: top rejection', sql: inline(/** @type {Recorded} */ (healthReasons)) },
	{ name: 'garbled-senders', sql: inline(/** @type {Recorded} */ (garbled)) }
];

/**
 * EXPLAIN QUERY PLAN of every shape in one wrangler run; shape by shape when one fails (a column
 * the migrations do not have yet), so the others still print.
 * @param {(args: string[]) => string} d1
 * @param {string} dir
 * @returns {Array<Array<{ id: number, parent: number, detail: string }> | string>}
 */
function explain(d1, dir) {
	const file = path.join(dir, 'explain.sql');
	writeFileSync(file, SHAPES.map((shape) => `EXPLAIN QUERY PLAN ${shape.sql};\n`).join(''));
	try {
		return JSON.parse(d1(['--file', file, '--json'])).map((/** @type {{ results: any[] }} */ result) => result.results);
	} catch (error) {
		// Shape by shape is for running the bench against an older schema; today's must explain.
		if (SMOKE) throw error;
		return SHAPES.map((shape) => {
			try {
				return JSON.parse(d1(['--command', `EXPLAIN QUERY PLAN ${shape.sql}`, '--json']))[0].results;
			} catch (error) {
				return /** @type {Error} */ (error).message.match(/"text": "([^"]*)"/)?.[1] ?? 'failed';
			}
		});
	}
}

// ---------------------------------------------------------------------------------------
// The run

const dir = mkdtempSync(path.join(tmpdir(), 'mailgate-log-query-'));
const seedSql = path.join(dir, 'seed.sql');
writeFileSync(seedSql, SEED);
/** @type {Record<string, any>} */
let summary = {};
/** @type {ReturnType<typeof explain>} */
let plans = [];
/** @type {Array<{ name: string, rows: string, values: number[] } | { name: string, rows: string, status: number }>} */
const results = [];

const server = await startLocalServer({
	seedSql,
	beforeStart: (d1) => {
		summary = JSON.parse(d1(['--command', SUMMARY_SQL, '--json']))[0].results[0];
		plans = explain(d1, dir);
	}
}).finally(() => rmSync(dir, { recursive: true, force: true }));
const headers = { authorization: `Bearer ${server.adminToken}` };

/** @param {string} url */
async function get(url) {
	const started = performance.now();
	const response = await fetch(`${server.baseUrl}${url}`, { headers });
	// A 4xx is a filter this API does not have (n/a below); a 5xx is the Worker failing: stop with its error.
	if (response.status >= 500) await server.check(response, `GET ${url}`);
	const body = await response.json();
	return { status: response.status, body, ms: performance.now() - started };
}

/** @param {any} body */
const rowsOf = (body) => `${body.items.length}${body.nextCursor ? '+' : ''}`;

/**
 * Warms up, then times SAMPLES requests; a route or filter this API does not have yet is "n/a".
 * @param {string} name
 * @param {string} url
 */
async function measure(name, url) {
	const first = await get(url);
	// n/a is for running the bench against an older API; today's must answer every case.
	if (first.status !== 200 && SMOKE) throw new Error(`GET ${url}: HTTP ${first.status} ${JSON.stringify(first.body).slice(0, 500)}`);
	if (first.status !== 200) {
		results.push({ name, rows: '', status: first.status });
		return;
	}
	for (let i = 1; i < WARM_UP; i++) await get(url);
	const values = [];
	for (let i = 0; i < SAMPLES; i++) {
		const { status, ms } = await get(url);
		if (status !== 200) throw new Error(`GET ${url}: HTTP ${status}`);
		values.push(ms);
	}
	results.push({ name, rows: rowsOf(first.body), values });
}

const listUrl = (/** @type {Filters} */ filters) => `/api/messages?${new URLSearchParams(/** @type {Record<string, string>} */ (filters))}`;

try {
	await measure(`GET /api/messages ${LIST_CASES[0]?.name}`, listUrl({}));
	// 50 pages deep: one untimed walk to warm up, then every page fetch of a second walk, then page 50 alone.
	/** @type {string[]} */
	let cursors = [];
	for (let walk = 0; walk < 2; walk++) {
		cursors = [];
		let page = await get(listUrl({}));
		const values = [];
		for (let i = 2; i <= 50 && page.body.nextCursor; i++) {
			cursors.push(page.body.nextCursor);
			page = await get(listUrl({ cursor: page.body.nextCursor }));
			values.push(page.ms);
		}
		if (walk === 1) results.push({ name: 'GET /api/messages pages 2-50 by cursor', rows: `${cursors.length + 1} pages`, values });
	}
	if (cursors.length) await measure('GET /api/messages page 50 (cursor)', listUrl({ cursor: cursors.at(-1) }));
	for (const c of LIST_CASES.slice(1)) await measure(`GET /api/messages ${c.name}`, listUrl(c.filters));
	await measure('GET /api/mailbox-health', '/api/mailbox-health');
	await measure('GET /api/messages/garbled-senders', '/api/messages/garbled-senders');
} finally {
	await server.stop();
}

const s = summary;
console.log(
	`Seeded ${s.rows} log rows in ${((server.seedMs ?? 0) / 1000).toFixed(1)} s (wrangler d1 execute --file, its start-up included); ` +
		`${(s.text_bytes / 1024 / 1024).toFixed(0)} MiB of headers, bodies and evidence.`
);
console.log(
	`  ${s.refused} refused (no mailbox); ${s.accepted} accepted, ${s.quarantined} quarantined, ${s.rejected} rejected (${s.reasons} distinct reasons); ` +
		`${s.senders} senders on ${s.domains} domains; ${s.garbled} garbled, ${s.blank} blank; headers ${s.header_bytes} B on average; ${s.oldest} to ${s.newest}.`
);
console.log();
console.log('case'.padEnd(54), 'rows'.padStart(9), 'n'.padStart(5), 'p50 ms'.padStart(8), 'p95 ms'.padStart(8), 'max ms'.padStart(8));
for (const result of results) {
	if (!('values' in result)) {
		console.log(result.name.padEnd(54), `n/a (${result.status})`.padStart(9));
		continue;
	}
	console.log(result.name.padEnd(54), result.rows.padStart(9), ...timingCells(result.values));
}

console.log('\nEXPLAIN QUERY PLAN (SCAN messages = reads the whole table)');
SHAPES.forEach((shape, i) => {
	const plan = plans[i] ?? 'not run';
	console.log(`\n${shape.name}\n  ${shape.sql.replace(/^SELECT id, mailbox_id.*? FROM messages/, 'SELECT <list columns> FROM messages')}`);
	if (typeof plan === 'string') {
		console.log(`  n/a: ${plan}`);
		return;
	}
	/** @type {Map<number, number>} */
	const depth = new Map([[0, 0]]);
	for (const step of plan) {
		const level = (depth.get(step.parent) ?? 0) + 1;
		depth.set(step.id, level);
		console.log(`${'  '.repeat(level)}${step.detail}`);
	}
});
