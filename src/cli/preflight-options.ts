import type { Argv } from 'yargs';

/** The options of `argo preflight` and `apkg preflight` (one definition for both). */
export function preflightOptions<T>(cli: Argv<T>) {
  return cli
    .option('binhost', { type: 'string', describe: 'binhost URL or local PKGDIR to check coverage against (default: the target\'s binrepos.conf)' })
    .option('snapshot', { type: 'boolean', default: false, describe: 'take the pre-update snapshot when it is possible' })
    .option('stop-gui', { type: 'boolean', default: false, describe: 'stop the display manager (only from a console, only after the snapshot)' })
    .option('critical', { type: 'string', array: true, default: [] as string[], describe: 'packages that must never compile in place (default: libxcrypt, pam, pambase, glibc, gcc, openssl, …)' })
    .option('proc-root', { type: 'string', hidden: true, describe: 'where to read running processes (tests)' });
}
