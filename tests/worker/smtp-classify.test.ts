/** The classifier over replies real providers send (tests/fixtures/smtp/provider-replies.json). */
import { describe, expect, it } from 'vitest';
import replies from '../fixtures/smtp/provider-replies.json';
import type { Encryption } from '../../src/lib/schema/mailbox';
import type { SmtpStage } from '../../src/lib/schema/smtp-test';
import { classify, isTemporaryReply, parseReply } from '../../worker/smtp/classify';
import { limitOfReply } from '../../worker/smtp/provider-limit';

interface Case {
	provider: string;
	stage: SmtpStage;
	encryption?: Encryption;
	reply: string;
	category: string;
	hint: string;
	code: number;
	enhancedCode?: string;
	/** SPEC §15: the provider limit the reply announces (none when absent). */
	limit?: 'concurrency' | 'rate' | 'daily';
}

const base = { port: 587, host: 'smtp.example.com', timeoutSeconds: 10 } as const;

describe('classify() over recorded provider replies', () => {
	it.each((replies.cases as Case[]).map((c) => [`${c.provider} at ${c.stage}: ${c.reply.slice(0, 60)}`, c] as const))('%s', (_name, c) => {
		const reply = parseReply(c.reply);
		expect(reply?.code).toBe(c.code);
		if (c.enhancedCode) expect(reply?.enhancedCode).toBe(c.enhancedCode);
		const verdict = classify({ ...base, stage: c.stage, encryption: c.encryption ?? 'starttls', failure: { kind: 'reply', reply: reply! } });
		expect(verdict.category).toBe(c.category);
		expect(verdict.hint.toLowerCase()).toContain(c.hint.toLowerCase());
		expect(limitOfReply(reply!)?.limit.kind ?? null).toBe(c.limit ?? null);
		// SPEC §15: a limit answer is temporary whatever its first digit.
		if (c.limit) expect(isTemporaryReply(reply!)).toBe(true);
	});
});

describe('classify() by stage when there are no words', () => {
	it('calls a timeout on a 465 greeting with STARTTLS an encryption mismatch', () => {
		expect(classify({ ...base, port: 465, stage: 'greeting', encryption: 'starttls', failure: { kind: 'timeout' } }).category).toBe('tls');
		expect(classify({ ...base, stage: 'greeting', encryption: 'starttls', failure: { kind: 'timeout' } }).category).toBe('timeout');
	});

	it('trusts the stage over an opaque runtime error', () => {
		const opaque = { kind: 'socket', message: 'internal error; reference = abc123' } as const;
		expect(classify({ ...base, stage: 'tls', encryption: 'starttls', failure: opaque }).category).toBe('tls');
		expect(classify({ ...base, stage: 'connect', encryption: 'none', failure: opaque }).category).toBe('connection');
		const proxy = { kind: 'socket', message: 'proxy request failed, cannot connect to the specified address' } as const;
		expect(classify({ ...base, stage: 'connect', encryption: 'tls', failure: proxy, probe: 'closed' }).category).toBe('connection');
		expect(classify({ ...base, stage: 'tls', encryption: 'tls', failure: proxy, probe: 'silent' }).category).toBe('tls');
		expect(classify({ ...base, stage: 'tls', encryption: 'tls', failure: proxy, probe: 'plain-greeting' }).hint).toMatch(/answered without SSL\/TLS/);
	});

	it('names capability problems', () => {
		expect(classify({ ...base, stage: 'tls', encryption: 'starttls', failure: { kind: 'no-starttls' } }).category).toBe('tls');
		expect(classify({ ...base, stage: 'auth', encryption: 'none', failure: { kind: 'starttls-required' } }).category).toBe('tls');
		expect(classify({ ...base, stage: 'auth', encryption: 'starttls', failure: { kind: 'no-auth-method', offered: ['xoauth2'] } }).hint).toMatch(/xoauth2/);
	});
});

describe('parseReply()', () => {
	it('joins multi-line replies and keeps the raw text', () => {
		const reply = parseReply('250-smtp.example.com\r\n250-PIPELINING\r\n250 SIZE 35882577\r\n');
		expect(reply).toMatchObject({ code: 250, text: 'smtp.example.com PIPELINING SIZE 35882577' });
		expect(parseReply('garbage')).toBeNull();
	});
});
