/** Milliseconds with sensible precision. */
export function ms(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** An integer with thousands separators. */
export function int(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

/** A ratio as a percentage. */
export function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(v === 1 ? 0 : 2)} %` : '–';
}

/** `{a: 1, b: 2}` → `a 1, b 2` (or `none`). */
export function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

/** A Markdown table. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
