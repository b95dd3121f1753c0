/**
 * SPF, DKIM, DMARC and ARC with mailauth (SPEC §5.2), reduced to what Mailgate stores and
 * shows. The resolver is injected (DNS over HTTPS in production, a DoH server on loopback in
 * tests); any failure inside becomes `temperror`, never a pass (RFC 7208 §2.6.6).
 */
import { authenticate } from 'mailauth';
import type { Hop } from './cloudflare-hop';

export const authResultValues = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror'] as const;
export type AuthResult = (typeof authResultValues)[number];
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface AuthVerdict {
	spf: { result: AuthResult; domain: string | null; clientIp: string | null; helo: string | null; comment: string | null };
	dkim: Array<{ domain: string | null; selector: string | null; result: AuthResult; aligned: boolean; comment: string | null }>;
	dmarc: { result: AuthResult; domain: string | null; policy: DmarcPolicy | null; spfAligned: boolean; dkimAligned: boolean; comment: string | null };
	arc: { result: AuthResult; sealer: string | null; instance: number; comment: string | null };
}

export type Resolver = (name: string, rrtype: string) => Promise<unknown>;

function toResult(value: unknown): AuthResult {
	return (authResultValues as readonly unknown[]).includes(value) ? (value as AuthResult) : value === 'policy' ? 'fail' : 'neutral';
}

const text = (value: unknown): string | null => (typeof value === 'string' && value ? value : null);

/** The best DKIM result across signatures: one pass is enough (RFC 6376 §6.1). */
export function dkimSummary(dkim: AuthVerdict['dkim']): AuthResult {
	const order: AuthResult[] = ['pass', 'fail', 'permerror', 'temperror', 'neutral', 'softfail', 'none'];
	for (const result of order) if (dkim.some((signature) => signature.result === result)) return result;
	return 'none';
}

export async function authenticateMessage(options: {
	raw: Uint8Array | string;
	envelopeFrom: string;
	hop: Hop;
	resolver: Resolver;
	mta: string;
}): Promise<AuthVerdict> {
	const { hop } = options;
	try {
		const raw = typeof options.raw === 'string' ? options.raw : Buffer.from(options.raw.buffer, options.raw.byteOffset, options.raw.byteLength);
		// eslint-disable-next-line @typescript-eslint/no-explicit-any
		const result: any = await authenticate(raw, {
			resolver: options.resolver as never,
			ip: hop.ip ?? undefined,
			helo: hop.helo ?? undefined,
			sender: options.envelopeFrom || undefined,
			mta: options.mta,
			disableBimi: true,
			trustReceived: false
		});
		const dmarcStatus = result.dmarc?.status ?? {};
		const dmarcPolicy = text(result.dmarc?.policy);
		return {
			spf: {
				result: hop.ip ? toResult(result.spf?.status?.result) : 'none',
				domain: text(result.spf?.domain),
				clientIp: hop.ip,
				helo: hop.helo,
				comment: hop.ip ? text(result.spf?.status?.comment) : 'no client IP from Cloudflare’s MX hop'
			},
			dkim: (result.dkim?.results ?? [])
				.filter((row: { signingDomain?: string }) => row.signingDomain)
				.map((row: { signingDomain: string; selector?: string; status?: { result?: string; comment?: string; aligned?: string } }) => ({
					domain: row.signingDomain,
					selector: text(row.selector),
					result: toResult(row.status?.result),
					aligned: Boolean(row.status?.aligned),
					comment: text(row.status?.comment)
				})),
			dmarc: {
				result: result.dmarc ? toResult(dmarcStatus.result) : 'none',
				domain: text(result.dmarc?.domain),
				policy: dmarcPolicy === 'none' || dmarcPolicy === 'quarantine' || dmarcPolicy === 'reject' ? dmarcPolicy : null,
				spfAligned: Boolean(result.dmarc?.alignment?.spf?.result),
				dkimAligned: Boolean(result.dmarc?.alignment?.dkim?.result),
				comment: text(dmarcStatus.comment)
			},
			arc: {
				result: toResult(result.arc?.status?.result ?? 'none'),
				sealer: text(result.arc?.signature?.signingDomain),
				instance: Number(result.arc?.i) || 0,
				comment: text(result.arc?.status?.comment)
			}
		};
	} catch (error) {
		const comment = `authentication could not finish: ${error instanceof Error ? error.message : String(error)}`;
		return {
			spf: { result: 'temperror', domain: null, clientIp: hop.ip, helo: hop.helo, comment },
			dkim: [],
			dmarc: { result: 'temperror', domain: null, policy: null, spfAligned: false, dkimAligned: false, comment },
			arc: { result: 'temperror', sealer: null, instance: 0, comment }
		};
	}
}
