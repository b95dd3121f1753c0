/**
 * An SMTP server on loopback that a test steers while the app watches (SPEC §16 "Statuses follow
 * the item"): it can hold a message at DATA until released (the reply stays `sending`), answer
 * DATA with a temporary refusal (`deferred`), refuse the recipient as a mailbox that does not
 * exist (`failed`, 5.1.1), or accept. The Worker under `wrangler dev` reaches it because the
 * harness sets ALLOW_PRIVATE_SMTP_HOSTS. Started by the test file that uses it.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { callApi, seedIntegration, uniqueAddress } from './helpers';

export type PeerAnswer = 'accept' | 'tempfail' | 'no-such-mailbox' | 'quota';

/** SPEC §15: Microsoft 365's daily quota, in its exact words (a 5xx that means "wait"). */
export const QUOTA_REFUSAL = '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception';

export interface HeldPeer {
	port: number;
	/** What the next messages get. */
	answer: PeerAnswer;
	/** Messages wait at DATA until `release()` while this is true. */
	hold: boolean;
	/** Lets every held message through (with the current `answer`) and stops holding. */
	release(): void;
	/** Messages accepted, as their raw text. */
	accepted: string[];
	/** Messages that reached DATA while held (so a test knows the consumer is in the middle of one). */
	held: number;
	close(): Promise<void>;
}

export async function startHeldPeer(): Promise<HeldPeer> {
	let waiting: Array<() => void> = [];
	const peer: HeldPeer = {
		port: 0,
		answer: 'accept',
		hold: false,
		accepted: [],
		held: 0,
		release() {
			peer.hold = false;
			for (const go of waiting) go();
			waiting = [];
		},
		close: async () => {}
	};
	const smtp = new SMTPServer({
		logger: false,
		disableReverseLookup: true,
		allowInsecureAuth: true,
		hideSTARTTLS: true,
		authMethods: ['PLAIN', 'LOGIN'],
		onAuth(auth, _session, callback) {
			callback(null, { user: auth.username });
		},
		onRcptTo(address, _session, callback) {
			if (peer.answer === 'no-such-mailbox') {
				return callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown`), { responseCode: 550 }));
			}
			callback();
		},
		onData(stream, _session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', async () => {
				if (peer.hold) {
					peer.held += 1;
					await new Promise<void>((resolve) => waiting.push(resolve));
				}
				if (peer.answer === 'quota') return callback(Object.assign(new Error(QUOTA_REFUSAL), { responseCode: 554 }));
				if (peer.answer === 'tempfail') {
					return callback(Object.assign(new Error('4.3.0 Mail server temporarily busy, try again later'), { responseCode: 451 }));
				}
				peer.accepted.push(Buffer.concat(chunks).toString('utf8'));
				callback();
			});
		}
	});
	smtp.on('error', () => {});
	await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
	peer.port = (smtp.server.address() as AddressInfo).port;
	peer.close = async () => {
		peer.release();
		await new Promise<void>((resolve) => smtp.close(() => resolve()));
	};
	return peer;
}

/** A mailbox (unique service address, its own integration) sending through `peer`. */
export async function seedHeldMailbox(peer: HeldPeer, name = 'Live desk'): Promise<{ id: string; address: string }> {
	const integration = await seedIntegration();
	const address = uniqueAddress('live');
	const created = await callApi('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name,
		address,
		smtp: { host: '127.0.0.1', port: peer.port, username: address, password: 'held-peer-password', encryption: 'none' }
	});
	if (created.status !== 201) throw new Error(`Creating the mailbox failed: ${JSON.stringify(created.body)}`);
	return { id: created.body.id, address };
}
