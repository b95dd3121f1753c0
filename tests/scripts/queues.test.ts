// worker/index.ts dispatches queue batches from one table keyed by worker/jobs/queues.ts (typed
// Record<QueueName, …>, so the table has exactly those names); here the names are held against
// wrangler.toml: every queue consumed has a consumer, and each producer binding names its queue.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QUEUES } from '../../worker/jobs/queues';

/** The `key = "value"` pairs of each `[[section]]` block of a TOML file (enough for wrangler.toml's queues). */
function tableArrays(toml: string, section: string): Array<Record<string, string>> {
	const blocks: Array<Record<string, string>> = [];
	let current: Record<string, string> | null = null;
	for (const line of toml.split('\n')) {
		const header = /^\s*\[\[?([^\]]+)\]\]?\s*$/.exec(line);
		if (header) {
			current = header[1] === section && line.trim().startsWith('[[') ? {} : null;
			if (current) blocks.push(current);
			continue;
		}
		const pair = /^\s*([\w-]+)\s*=\s*"([^"]*)"/.exec(line);
		if (current && pair) current[pair[1]!] = pair[2]!;
	}
	return blocks;
}

const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
const queues = Object.values(QUEUES);

describe("the Worker's queues against wrangler.toml", () => {
	it('has a consumer for exactly the queues wrangler.toml consumes', () => {
		const consumed = tableArrays(toml, 'queues.consumers').map((block) => block.queue);
		expect(consumed.length).toBeGreaterThan(0);
		expect([...consumed].sort()).toEqual(queues.map((queue) => queue.name).sort());
	});

	it('produces to each queue through the binding that names it', () => {
		const produced = tableArrays(toml, 'queues.producers').map((block) => ({ binding: block.binding, name: block.queue }));
		expect(produced.sort((a, b) => a.name!.localeCompare(b.name!))).toEqual(
			queues.map((queue) => ({ binding: queue.binding, name: queue.name })).sort((a, b) => a.name.localeCompare(b.name))
		);
	});
});
