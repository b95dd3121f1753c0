/**
 * The email log's row for an inbound message (SPEC §5.6), built from what the pipeline found:
 * the authentication verdict summarised beside its details, the forwarding class beside its
 * evidence. Pure.
 */
import type { LoggedMessage } from '../db/messages';
import { dkimSummary, type AuthVerdict } from './authenticate';
import type { ForwardingVerdict } from './forwarding';

/** What every row has, whatever the verdict; the content (text, HTML, attachments) comes with acceptance. */
export type RowInput = Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'textFromHtml' | 'html' | 'attachments' | 'auth' | 'authDetails' | 'forwarding' | 'forwardingEvidence' | 'encoding'> & {
	auth: AuthVerdict;
	forwarding: ForwardingVerdict;
	encoding: LoggedMessage['encoding'];
};

export type RowWithoutContent = Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'textFromHtml' | 'html' | 'attachments'>;

export function toRow(input: RowInput): RowWithoutContent {
	const { auth, forwarding, encoding, ...rest } = input;
	return {
		...rest,
		auth: { spf: auth.spf.result, dkim: dkimSummary(auth.dkim), dmarc: auth.dmarc.result, arc: auth.arc.result },
		authDetails: auth,
		forwarding: forwarding.class,
		forwardingEvidence: forwarding.evidence,
		encoding
	};
}

/** A refused delivery's row: refused mail keeps no content (SPEC §5.6). */
export function refusedRow(input: RowInput, reason: string): LoggedMessage {
	return { ...toRow(input), verdict: 'rejected', reason, text: null, textFromHtml: false, html: null, attachments: [] };
}

/** Nothing was forwarded, or it was not looked at (internal mail, bounces, refused recipients). */
export function notForwarded(): ForwardingVerdict {
	return { class: 'none', evidence: [] };
}

/** Authentication of mail to an address that is not a service address: not checked at all. */
export function notChecked(): AuthVerdict {
	const comment = 'not checked: the recipient is not a service address';
	return {
		spf: { result: 'none', domain: null, clientIp: null, helo: null, comment },
		dkim: [],
		dmarc: { result: 'none', domain: null, policy: null, spfAligned: false, dkimAligned: false, comment },
		arc: { result: 'none', sealer: null, instance: 0, comment }
	};
}
