/**
 * Imported first by every executable, before anything that needs a current Node.js: on an old runtime the
 * user gets one clear line instead of a syntax or import error. The entry files import everything else
 * dynamically, after this module has run.
 *
 * The minimum is what the code needs: the zstd functions of `node:zlib` (GPKG members) arrived in 22.15.
 * package.json's `engines` says the same number (a test keeps them in step).
 */
export const MINIMUM_NODE = '22.15.0';

/** Whether `version` (`22.15.0`, `v24.1.0`) is at least `minimum`, comparing major, minor and patch. */
export function isSupportedNode(version: string, minimum: string = MINIMUM_NODE): boolean {
  const parse = (text: string): number[] => text.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10) || 0);
  const have = parse(version);
  const need = parse(minimum);
  for (let index = 0; index < 3; index += 1) {
    const a = have[index] ?? 0;
    const b = need[index] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(
    `error: this program needs Node.js ${MINIMUM_NODE} or newer, but runs on ${process.version} [ARGO_USAGE]\n` +
      `hint: on Gentoo, emerge --ask ">=net-libs/nodejs-${MINIMUM_NODE}"; from a live USB, use a Node.js ${MINIMUM_NODE}+ binary tarball.\n`,
  );
  process.exit(2);
}
