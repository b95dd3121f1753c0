/**
 * mailauth's BIMI module requires undici (which needs node:sqlite, absent from workerd). Mailgate
 * runs mailauth with BIMI disabled, so nothing here is ever called; wrangler.toml [alias] and the
 * test config point `undici` at this file so the bundle loads.
 */
const unavailable = () => {
	throw new Error('undici is not available in the Worker (BIMI is disabled)');
};

export const fetch = unavailable;
/** Constructed when mailauth's BIMI module loads; harmless until something fetches through it. */
export class Agent {}
export default { fetch, Agent };
