/** All SQL for SMTP sending test results and the one-test-at-a-time leases. */
import type { SmtpTestSummary } from '../../src/lib/schema/mailbox';
import type { SmtpTestResult } from '../../src/lib/schema/smtp-test';
import { changedOne } from './statements';

/** History kept per mailbox; older results are dropped when a new one is stored. */
export const HISTORY_PER_MAILBOX = 50;

interface SmtpTestRow {
	id: string;
	mailbox_id: string | null;
	settings: SmtpTestResult['settings'];
	ok: number;
	stage: SmtpTestResult['stage'];
	category: SmtpTestResult['category'];
	code: number | null;
	enhanced_code: string | null;
	server_message: string | null;
	hint: string;
	transcript: string;
	steps: string;
	to_address: string;
	duration_ms: number;
	at: string;
}

const toResult = (row: SmtpTestRow): SmtpTestResult => ({
	id: row.id,
	mailboxId: row.mailbox_id,
	settings: row.settings,
	ok: row.ok === 1,
	stage: row.stage,
	category: row.category,
	...(row.code === null ? {} : { code: row.code }),
	...(row.enhanced_code === null ? {} : { enhancedCode: row.enhanced_code }),
	...(row.server_message === null ? {} : { serverMessage: row.server_message }),
	hint: row.hint,
	transcript: JSON.parse(row.transcript) as string[],
	steps: JSON.parse(row.steps) as SmtpTestResult['steps'],
	to: row.to_address,
	durationMs: row.duration_ms,
	at: row.at
});

export async function insertSmtpTest(db: D1Database, result: SmtpTestResult): Promise<void> {
	const insert = db
		.prepare(
			'INSERT INTO smtp_tests (id, mailbox_id, settings, ok, stage, category, code, enhanced_code, server_message, ' +
				'hint, transcript, steps, to_address, duration_ms, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)'
		)
		.bind(
			result.id,
			result.mailboxId,
			result.settings,
			result.ok ? 1 : 0,
			result.stage,
			result.category,
			result.code ?? null,
			result.enhancedCode ?? null,
			result.serverMessage ?? null,
			result.hint,
			JSON.stringify(result.transcript),
			JSON.stringify(result.steps),
			result.to,
			Math.round(result.durationMs),
			result.at
		);
	if (!result.mailboxId) {
		await insert.run();
		return;
	}
	const prune = db
		.prepare(
			'DELETE FROM smtp_tests WHERE mailbox_id = ?1 AND id NOT IN ' +
				'(SELECT id FROM smtp_tests WHERE mailbox_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2)'
		)
		.bind(result.mailboxId, HISTORY_PER_MAILBOX);
	await db.batch([insert, prune]);
}

export async function listSmtpTests(db: D1Database, mailboxId: string, limit = 20): Promise<SmtpTestResult[]> {
	const { results } = await db
		.prepare('SELECT * FROM smtp_tests WHERE mailbox_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2')
		.bind(mailboxId, limit)
		.all<SmtpTestRow>();
	return results.map(toResult);
}

/** The latest test of each mailbox (of `mailboxId` only, when given), for the list's badge. */
export async function latestSmtpTests(db: D1Database, mailboxId?: string): Promise<Map<string, SmtpTestSummary>> {
	const { results } = await db
		.prepare(
			'SELECT mailbox_id, ok, stage, category, settings, at FROM (' +
				'SELECT *, ROW_NUMBER() OVER (PARTITION BY mailbox_id ORDER BY at DESC, id DESC) AS n FROM smtp_tests ' +
				'WHERE mailbox_id IS NOT NULL AND (?1 IS NULL OR mailbox_id = ?1)) WHERE n = 1'
		)
		.bind(mailboxId ?? null)
		.all<Pick<SmtpTestRow, 'mailbox_id' | 'ok' | 'stage' | 'category' | 'settings' | 'at'>>();
	return new Map(
		results.map((row) => [
			row.mailbox_id!,
			{ ok: row.ok === 1, stage: row.stage, category: row.category, settings: row.settings, at: row.at }
		])
	);
}

/**
 * Issue 19: gives a passing test of unsaved settings that belongs to no mailbox yet, run after
 * `since`, to the mailbox just saved with those settings; false when there is no such test (it
 * failed, is older, or already went to a mailbox).
 */
export async function claimSmtpTest(db: D1Database, testId: string, mailboxId: string, since: string): Promise<boolean> {
	return changedOne(db, "UPDATE smtp_tests SET mailbox_id = ?2 WHERE id = ?1 AND mailbox_id IS NULL AND ok = 1 AND settings = 'form' AND at > ?3", testId, mailboxId, since);
}

/** Tests since `since`: in all, and of `mailboxId` (0 when null), in one query. */
export async function countSmtpTestsSince(
	db: D1Database,
	since: string,
	mailboxId: string | null
): Promise<{ overall: number; mailbox: number }> {
	const row = await db
		.prepare('SELECT COUNT(*) AS overall, COUNT(CASE WHEN mailbox_id = ?2 THEN 1 END) AS mailbox FROM smtp_tests WHERE at > ?1')
		.bind(since, mailboxId)
		.first<{ overall: number; mailbox: number }>();
	return { overall: row?.overall ?? 0, mailbox: row?.mailbox ?? 0 };
}

/** Takes the lease `key` until `expiresAt` (epoch ms) unless a live one exists; true when taken. */
export async function acquireLease(db: D1Database, key: string, nowMs: number, expiresAt: number): Promise<boolean> {
	return changedOne(
		db,
		'INSERT INTO smtp_test_locks (key, expires_at) VALUES (?1, ?2) ' +
			'ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE smtp_test_locks.expires_at <= ?3',
		key, expiresAt, nowMs
	);
}

export async function releaseLease(db: D1Database, key: string): Promise<void> {
	await db.prepare('DELETE FROM smtp_test_locks WHERE key = ?1').bind(key).run();
}

/** SPEC §16: the hash of a test message's X-Mailgate-Test token (send/test-token.ts). */
export interface SmtpTestToken {
	tokenHash: string;
	mailboxId: string | null;
	/** Lower-case. */
	to: string;
	sentAt: string;
	expiresAt: string;
}

/** Stores a token's hash; tokens past their time are dropped in the same batch (they mean nothing any more). */
export async function insertSmtpTestToken(db: D1Database, token: SmtpTestToken): Promise<void> {
	await db.batch([
		db.prepare('DELETE FROM smtp_test_tokens WHERE expires_at <= ?1').bind(token.sentAt),
		db
			.prepare('INSERT INTO smtp_test_tokens (token_hash, mailbox_id, to_address, sent_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)')
			.bind(token.tokenHash, token.mailboxId, token.to, token.sentAt, token.expiresAt)
	]);
}

/** The token with this hash still valid at `at`, or null. */
export async function findSmtpTestToken(db: D1Database, tokenHash: string, at: string): Promise<SmtpTestToken | null> {
	const row = await db
		.prepare('SELECT token_hash, mailbox_id, to_address, sent_at, expires_at FROM smtp_test_tokens WHERE token_hash = ?1 AND expires_at > ?2')
		.bind(tokenHash, at)
		.first<{ token_hash: string; mailbox_id: string | null; to_address: string; sent_at: string; expires_at: string }>();
	return row ? { tokenHash: row.token_hash, mailboxId: row.mailbox_id, to: row.to_address, sentAt: row.sent_at, expiresAt: row.expires_at } : null;
}
