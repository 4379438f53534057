/**
 * Imported first by every executable, before anything that needs a current Node.js: on an old runtime the
 * user gets one clear line instead of a syntax or import error.
 */
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `error: this program needs Node.js 22 or newer, but runs on ${process.version} [ARGO_USAGE]\n` +
      'hint: on Gentoo, emerge --ask ">=net-libs/nodejs-22"; from a live USB, use a Node.js 22+ binary tarball.\n',
  );
  process.exit(2);
}
