/**
 * What the harness shows of wrangler dev's output when a server does not come up or a request
 * fails (scripts/local-harness.mjs `wranglerOutput`): the runtime's own errors first, then the tail.
 */
import { describe, expect, it } from 'vitest';
import { wranglerOutput } from '../../scripts/local-harness.mjs';

const STARTUP_FAILURE = [
	' ⛅️ wrangler 4.86.0',
	'Your Worker has access to the following bindings:',
	'env.DB (mailgate-bench)                                    D1 Database               local',
	'\u001b[31m✘ \u001b[41;31m[\u001b[41;97mERROR\u001b[41;31m]\u001b[0m \u001b[1mservice core:user:mailgate-inbound-bench: Uncaught TypeError: The argument must be an absolute path string.. Received \'undefined\'\u001b[0m',
	'',
	'    at null.<anonymous> (node:module:34:15) in createRequire',
	'',
	'✘ [ERROR] The Workers runtime failed to start. There is likely additional logging output above.',
	'? Would you like to report this error to Cloudflare?',
	'🤖 Using fallback value in non-interactive context: no'
].join('\n');

const REQUEST_FAILURE = [
	'[wrangler:info] Ready on http://127.0.0.1:8787',
	'[wrangler:info] POST /handler 200 OK (105ms)',
	'[wrangler:error] SyntaxError: "undefined" is not valid JSON',
	'    at findWebhookTarget (file:///work/main/worker/db/integrations.ts:131:102)',
	'[wrangler:info] POST /handler-without-storage 500 Internal Server Error (812ms)',
	...Array.from({ length: 30 }, (_, i) => `[wrangler:info] GET /empty 200 OK (${i}ms)`)
].join('\n');

describe('wranglerOutput', () => {
	it('puts the runtime\'s start-up error first, without colour codes or blank lines', () => {
		const shown = wranglerOutput(STARTUP_FAILURE);
		const [errors] = shown.split('--- last lines ---');
		expect(errors).toContain("Uncaught TypeError: The argument must be an absolute path string.. Received 'undefined'");
		expect(errors).toContain('in createRequire');
		expect(errors).toContain('The Workers runtime failed to start');
		expect(errors).not.toContain('Would you like to report');
		expect(shown).not.toContain('\u001b[');
		expect(errors).not.toMatch(/\n\s*\n/);
	});

	it('keeps an uncaught exception and its stack when later requests pushed it out of the tail', () => {
		const shown = wranglerOutput(REQUEST_FAILURE);
		const [errors, tail] = shown.split('--- last lines ---');
		expect(errors).toContain('[wrangler:error] SyntaxError: "undefined" is not valid JSON');
		expect(errors).toContain('at findWebhookTarget');
		expect(errors).not.toContain('[wrangler:info]');
		expect(tail).toContain('GET /empty 200 OK (29ms)');
		expect(tail).not.toContain('SyntaxError');
	});

	it('is the tail alone when wrangler printed no error', () => {
		const shown = wranglerOutput('[wrangler:info] Ready on http://127.0.0.1:8787\n\n[wrangler:info] GET / 200 OK (3ms)\n');
		expect(shown).toBe('[wrangler:info] Ready on http://127.0.0.1:8787\n[wrangler:info] GET / 200 OK (3ms)');
	});
});
