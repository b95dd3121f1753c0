import { describe, expect, it } from 'vitest';
import { call, createMailbox } from './helpers';

describe('smoke', () => {
	it('creates and lists', async () => {
		const m = await createMailbox();
		const list = await call('GET', '/api/mailboxes');
		expect(list.status).toBe(200);
		expect(list.body.items.map((i: any) => i.id)).toContain(m.id);
	});
});
