/**
 * The packages a login depends on. `apkg update` updates them alone first, from binaries, and proves the
 * login path before it touches anything else.
 */
export const LOGIN_PATH_PACKAGES: readonly string[] = ['sys-libs/libxcrypt', 'sys-libs/pam', 'sys-auth/pambase', 'sys-libs/glibc'];

/**
 * The packages preflight wants from binaries (and whose libxcrypt settings must not drift): the login path,
 * and what a failed compile of would leave the machine unable to build or authenticate.
 */
export const CRITICAL_PACKAGES: readonly string[] = [
  ...LOGIN_PATH_PACKAGES,
  'sys-devel/gcc',
  'dev-libs/openssl',
  'virtual/libcrypt',
  'sys-apps/shadow',
];
