// What the benches print their timings with: one nearest-rank percentile and one table of
// samples (n, p50, p95, max), so every bench reads its figures the same way.

/** The p-th percentile of sorted samples (nearest rank, the lower one); 0 for none. */
export const percentile = (/** @type {number[]} */ sorted, /** @type {number} */ p) =>
	sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** The cells every timing row ends with: n, p50, p95 and max in ms. @param {number[]} values */
export function timingCells(values) {
	const sorted = [...values].sort((a, b) => a - b);
	return [
		String(sorted.length).padStart(5),
		percentile(sorted, 50).toFixed(1).padStart(8),
		percentile(sorted, 95).toFixed(1).padStart(8),
		(sorted.at(-1) ?? 0).toFixed(1).padStart(8)
	];
}

/** A header and a row per name: its samples' n, p50, p95 and max. @param {string} title @param {Record<string, number[]>} samples @param {number} width */
export function printTimings(title, samples, width) {
	console.log(title.padEnd(width), 'n'.padStart(5), 'p50 ms'.padStart(8), 'p95 ms'.padStart(8), 'max ms'.padStart(8));
	for (const [name, values] of Object.entries(samples)) console.log(name.padEnd(width), ...timingCells(values));
}
