import { CHROOT_ENV } from './chroot-session.ts';

/** The environment emerge runs with inside the target: the chroot's, plus the binhost when one was given. */
export function emergeEnv(binhost: string | undefined): Record<string, string> {
  return binhost === undefined ? { ...CHROOT_ENV } : { ...CHROOT_ENV, PORTAGE_BINHOST: binhost };
}
