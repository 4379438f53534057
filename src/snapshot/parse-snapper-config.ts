/**
 * Reads the shell-variable lines of a snapper config (`/etc/snapper/configs/root`): `KEY="value"`.
 * Comments and blank lines are skipped; double or single quotes are removed, `\"` unescaped.
 */
export function parseSnapperConfig(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    values[match[1] as string] = unquote(match[2] as string);
  }
  return values;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value;
}
