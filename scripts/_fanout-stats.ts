/**
 * Private to `scripts/bench-fanout.ts`: exact latency percentiles over every delivery, and the
 * number formats of the report tables.
 *
 * @module
 */

export type LatencySummary = { p50: number; p90: number; p99: number; max: number };

/**
 * Percentiles (nearest rank) of the first `count` samples, in the samples' unit. Sorts in place.
 * Every delivery has its sample, so these are exact, not estimated from a histogram.
 */
export function latencySummary(samples: Float32Array, count: number): LatencySummary | null {
  if (count === 0) return null;
  const sorted = samples.subarray(0, count).sort();
  const rank = (p: number) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))]!;
  return { p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: sorted[count - 1]! };
}

/** `12 345` (groups of three digits, space-separated, as the issue writes counts). */
export function count(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** `40.0k`, `1.05M`, `950`: a rate or a large count in three significant digits. */
export function short(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  return abs >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** Milliseconds with a precision that suits the magnitude (`0.42`, `12.3`, `2 310`). */
export function ms(value: number): string {
  if (value >= 1000) return count(value);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** `1.23×`, or `–` when either side is missing. */
export function ratio(value: number | null | undefined, base: number | null | undefined): string {
  if (value == null || base == null || !Number.isFinite(value) || !Number.isFinite(base) || base <= 0) return "–";
  return `${(value / base).toFixed(2)}×`;
}

/** A Markdown table, columns padded for reading in a terminal. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}
