// Cloudflare's MX played on this machine (SPEC §13), for the local stand-ins that send mail: the
// SMTP server (scripts/local-smtp.mjs) and the Graph / Gmail API stand-in
// (scripts/local-provider-apis.mjs). What they accept for a service address of the running
// Mailgate is handed to `wrangler dev`'s email endpoint with the hop Cloudflare's MX adds, so a
// reply or a flow check's probe makes the whole round trip on one machine.

/** How long a list of service addresses is trusted for the addresses on it. */
const SERVICE_ADDRESSES_TTL_MS = 2_000;

/**
 * @typedef {object} Relay the running Mailgate whose service addresses get what arrives for them
 * @property {string} origin e.g. http://127.0.0.1:8787
 * @property {string} adminToken for GET /api/mailboxes
 */

/**
 * The trace headers Cloudflare's MX puts on top of what it hands to the Worker (as
 * tests/worker/deliver.ts writes them): the Worker takes the client IP and HELO for SPF from here.
 * @param {string} ip
 * @param {string} helo
 */
export function cloudflareHop(ip, helo) {
	return (
		`Received-SPF: none (mx.cloudflare.net: no SPF checked) receiver=mx.cloudflare.net; client-ip=${ip}; helo=${helo};\r\n` +
		`Received: from ${helo} (${helo} [${ip}]) by mx.cloudflare.net (Mailgate local relay) with ESMTP; ${new Date().toUTCString().replace(/GMT$/, '+0000')}\r\n`
	);
}

/**
 * Whether an address is a service address of the running Worker (GET /api/mailboxes). The list
 * is reused briefly, and asked for again before an address is taken for a customer's, so a
 * mailbox saved a moment ago is found.
 * @param {Relay} relay
 * @returns {(address: string) => Promise<boolean>}
 */
function serviceAddressLookup(relay) {
	/** @type {{ at: number, addresses: Set<string> } | null} */
	let cached = null;
	const load = async () => {
		const response = await fetch(`${relay.origin}/api/mailboxes`, { headers: { authorization: `Bearer ${relay.adminToken}` } });
		if (!response.ok) throw new Error(`GET /api/mailboxes answered ${response.status}`);
		const { items } = /** @type {{ items: Array<{ address: string }> }} */ (await response.json());
		cached = { at: Date.now(), addresses: new Set(items.map((item) => item.address.toLowerCase())) };
		return cached.addresses;
	};
	return async (address) => {
		const key = address.toLowerCase();
		if (cached && Date.now() - cached.at < SERVICE_ADDRESSES_TTL_MS && cached.addresses.has(key)) return true;
		return (await load()).has(key);
	};
}

/**
 * @typedef {object} HandOver one accepted message
 * @property {string} from the envelope sender
 * @property {string[]} recipients every recipient; only service addresses get it
 * @property {Uint8Array} data the message as the Worker receives it (no hop yet)
 * @property {string} [ip] the sending client's IP (the hop's client-ip)
 * @property {string} [helo] the sending client's HELO name
 * @property {(address: string) => void} [onHanded] after each service address took it
 */

/**
 * Hands a message to the Worker once per service address among its recipients, the way Email
 * Routing does. The Worker's refusal (400) throws with `responseCode` 550, anything else that is
 * not a success with 451 (an unreachable Worker is a temporary failure, as at a real MX), so an
 * SMTP server can answer its client with it.
 * @param {Relay} relay
 */
export function localRelay(relay) {
	const isServiceAddress = serviceAddressLookup(relay);
	return {
		/** @param {HandOver} message */
		async handOver({ from, recipients, data, ip = '127.0.0.1', helo = 'localhost', onHanded }) {
			const hop = Buffer.from(cloudflareHop(ip, helo));
			for (const address of recipients) {
				if (!(await isServiceAddress(address))) continue;
				const url = `${relay.origin}/cdn-cgi/handler/email?from=${encodeURIComponent(from)}&to=${encodeURIComponent(address)}`;
				const response = await fetch(url, { method: 'POST', body: Buffer.concat([hop, data]) });
				const text = (await response.text()).trim();
				if (response.status === 400) throw Object.assign(new Error(text || 'The Worker refused the message'), { responseCode: 550 });
				if (!response.ok) throw Object.assign(new Error(`4.3.0 The Worker answered ${response.status}; try again later`), { responseCode: 451 });
				onHanded?.(address);
			}
		}
	};
}
