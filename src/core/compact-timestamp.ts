/** `2026-11-29T14:02:57.123Z` → `20261129T140257Z`: sortable, safe in file names, one id per second. */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
