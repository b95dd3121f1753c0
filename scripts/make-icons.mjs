#!/usr/bin/env node
// Draws the app icons (static/icons/*.png) without image tools: a white envelope on the brand
// blue. Maskable icons keep the drawing inside the central 80% safe zone (W3C Manifest §icons).
import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BLUE = [0x1f, 0x4e, 0x79];
const WHITE = [0xff, 0xff, 0xff];

function crc32(bytes) {
	let crc = ~0;
	for (const byte of bytes) {
		crc ^= byte;
		for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc >>> 0;
}

function chunk(type, data) {
	const length = Buffer.alloc(4);
	length.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([length, body, crc]);
}

function png(size, pixel) {
	const rows = [];
	for (let y = 0; y < size; y++) {
		const row = Buffer.alloc(1 + size * 4);
		for (let x = 0; x < size; x++) {
			// 4×4 supersampling for smooth edges.
			let r = 0, g = 0, b = 0, a = 0;
			for (let sy = 0; sy < 4; sy++) {
				for (let sx = 0; sx < 4; sx++) {
					const [pr, pg, pb, pa] = pixel((x + (sx + 0.5) / 4) / size, (y + (sy + 0.5) / 4) / size);
					r += pr * pa; g += pg * pa; b += pb * pa; a += pa;
				}
			}
			const o = 1 + x * 4;
			row[o] = a ? Math.round(r / a) : 0;
			row[o + 1] = a ? Math.round(g / a) : 0;
			row[o + 2] = a ? Math.round(b / a) : 0;
			row[o + 3] = Math.round((a / 16) * 255);
		}
		rows.push(row);
	}
	const header = Buffer.alloc(13);
	header.writeUInt32BE(size, 0);
	header.writeUInt32BE(size, 4);
	header[8] = 8; // bit depth
	header[9] = 6; // RGBA
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', header),
		chunk('IDAT', deflateSync(Buffer.concat(rows))),
		chunk('IEND', Buffer.alloc(0))
	]);
}

/** The envelope, drawn in a box of `scale` (1 = whole icon) centred on the icon. */
function envelope(u, v, scale) {
	const x = (u - 0.5) / scale + 0.5;
	const y = (v - 0.5) / scale + 0.5;
	const inBody = x > 0.2 && x < 0.8 && y > 0.3 && y < 0.7;
	if (!inBody) return null;
	// The flap: two strokes from the top corners to the centre.
	const flapY = 0.3 + (0.5 - Math.abs(x - 0.5)) * (0.22 / 0.3);
	return Math.abs(y - flapY) < 0.035 ? BLUE : WHITE;
}

function icon({ maskable }) {
	return (u, v) => {
		if (!maskable) {
			// Rounded square with transparent corners.
			const r = 0.18, cx = Math.min(Math.max(u, r), 1 - r), cy = Math.min(Math.max(v, r), 1 - r);
			if ((u - cx) ** 2 + (v - cy) ** 2 > r * r) return [0, 0, 0, 0];
		}
		const colour = envelope(u, v, maskable ? 0.8 : 1) ?? BLUE;
		return [...colour, 1];
	};
}

mkdirSync('static/icons', { recursive: true });
writeFileSync('static/icons/icon-192.png', png(192, icon({ maskable: false })));
writeFileSync('static/icons/icon-512.png', png(512, icon({ maskable: false })));
writeFileSync('static/icons/maskable-512.png', png(512, icon({ maskable: true })));
writeFileSync('static/icons/apple-touch-icon.png', png(180, icon({ maskable: true })));
console.log('wrote static/icons/*.png');
