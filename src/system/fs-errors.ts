/** ENOENT or ENOTDIR: the path, or a folder on the way to it, does not exist. Nothing else counts as missing. */
export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
