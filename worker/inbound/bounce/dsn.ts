/**
 * RFC 3464 delivery status notifications: `multipart/report; report-type=delivery-status`
 * (RFC 6522), read from the `message/delivery-status` part. postal-mime lists that part, the
 * returned `message/rfc822` and `text/rfc822-headers` as attachments: a message with a report
 * part never has its message/rfc822 parts parsed inline (postal-mime `hasReportParts`). Pure.
 */
import type { Attachment } from 'postal-mime';
import { parseMessageId } from '../../../src/lib/schema/message-id';
import { attachmentText, cleanAddress, cleanMtaName, parseFieldGroups, stripTypePrefix, type Field } from './fields';
import { bounceHint, enhancedCode, REPLY_CODE } from './hints';
import { collectIds, returnedIds } from './ids';
import { isDelayOnly, MAX_REPORT_RECIPIENTS, type BounceRecipientReport, type BounceReport, type ReportSource } from './report';

/** Characters of a delivery-status part read; a report names each recipient in a few hundred. */
export const MAX_REPORT_CHARS = 64 * 1024;

/** RFC 3464 §2.1 and RFC 6533 §6.2 (internationalised). */
export const DELIVERY_STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
/** Fields that open or belong to a per-recipient group (RFC 3464 §2.3). */
const RECIPIENT_FIELDS = new Set(['original-recipient', 'final-recipient', 'action', 'status', 'remote-mta', 'diagnostic-code']);

/** RFC 6522 §3: the report type names the second part. */
export function isDeliveryStatusReport(contentType: string | undefined): boolean {
	if (!contentType || !/^\s*multipart\/report\b/i.test(contentType)) return false;
	const reportType = /;\s*report-type\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();
	return reportType === 'delivery-status' || reportType === 'global-delivery-status';
}

export function readDsn(source: ReportSource, statusParts: readonly Attachment[]): BounceReport {
	let reportingMta: string | null = null;
	const originalIds: string[] = [];
	const recipients: BounceRecipientReport[] = [];
	for (const part of statusParts) {
		const groups = parseFieldGroups(attachmentText(part, MAX_REPORT_CHARS));
		for (const group of groups) {
			for (const field of group) {
				if (field.name === 'reporting-mta') reportingMta ??= cleanMtaName(field.value);
				// Not RFC 3464 fields, but Gmail and others name the returned message this way.
				if (field.name === 'original-message-id' || field.name === 'x-original-message-id') {
					const id = parseMessageId(field.value);
					if (id) originalIds.push(id);
				}
			}
			if (group.some((f) => RECIPIENT_FIELDS.has(f.name))) recipients.push(...readRecipientGroup(group));
		}
	}
	const ids = collectIds(source, [...returnedIds(source), ...originalIds]);
	const limited = recipients.slice(0, MAX_REPORT_RECIPIENTS);
	return { format: 'dsn', reportingMta, ...ids, recipients: limited, delayOnly: isDelayOnly(limited) };
}

/** One blank-line group holds one recipient (RFC 3464 §2.1); some MTAs leave out the blank line between two. */
function readRecipientGroup(group: Field[]): BounceRecipientReport[] {
	const out: BounceRecipientReport[] = [];
	let current: Record<string, string> = {};
	const flush = () => {
		if (Object.keys(current).length > 0) out.push(recipientFromFields(current));
		current = {};
	};
	for (const { name, value } of group) {
		if (!RECIPIENT_FIELDS.has(name)) continue;
		// RFC 3464 §2.3 allows each field once per recipient, in any order: a repeated one starts the next recipient.
		if (name in current) flush();
		current[name] = value;
	}
	flush();
	return out;
}

function recipientFromFields(fields: Record<string, string>): BounceRecipientReport {
	const recipient = fields['final-recipient'] ?? fields['original-recipient'];
	const original = fields['original-recipient'];
	const diagnosticCode = fields['diagnostic-code'] ? stripTypePrefix(fields['diagnostic-code']) || null : null;
	const status = enhancedCode(fields['status'] ?? null) ?? enhancedCode(diagnosticCode);
	const action = fields['action']?.trim().split(/[\s(;]/)[0]?.toLowerCase() || actionFromStatus(status ?? REPLY_CODE.exec(diagnosticCode ?? '')?.[1] ?? null);
	return {
		finalRecipient: recipient ? cleanAddress(stripTypePrefix(recipient)) : null,
		originalRecipient: original ? cleanAddress(stripTypePrefix(original)) || null : null,
		action,
		status,
		diagnosticCode,
		remoteMta: fields['remote-mta'] ? cleanMtaName(fields['remote-mta']) : null,
		hint: bounceHint(status, diagnosticCode)
	};
}

/** RFC 3464 §2.3.3 makes Action required; when it is missing, the status (or SMTP reply code) class says enough. */
function actionFromStatus(status: string | null): string | null {
	if (!status) return null;
	return status.startsWith('5') ? 'failed' : status.startsWith('4') ? 'delayed' : 'delivered';
}
