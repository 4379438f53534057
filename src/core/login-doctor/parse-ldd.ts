/**
 * The sonames `ldd FILE…` reports as "not found", by file. With several files ldd heads each block with
 * `FILE:`; with one file there is no heading. Lines look like `\tlibcrypt.so.1 => not found`.
 */
export function parseLddNotFound(stdout: string, files: readonly string[]): Map<string, string[]> {
  const result = new Map<string, string[]>(files.map((file) => [file, []]));
  const headings = new Set(files.map((file) => `${file}:`));
  let current = files.length === 1 ? files[0] : undefined;
  for (const line of stdout.split('\n')) {
    if (headings.has(line.trim()) && !line.startsWith('\t')) {
      current = line.trim().slice(0, -1);
      continue;
    }
    const match = /^\s*(\S+) => not found\s*$/.exec(line);
    if (match !== null && current !== undefined) result.get(current)?.push(match[1] as string);
  }
  return result;
}
