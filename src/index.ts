/**
 * argo-toolkit as a library: the System port, the phased runner, logging and the error family. The Gentoo
 * format readers and writers are under the `argo-toolkit/gentoo` subpath.
 */
export { ArgoError, ERROR_CODES, EXIT, exitCodeOf, isArgoError, type ErrorCode, type ExitCode } from './core/errors.ts';
export { redactSecrets, redactSecretsInText } from './core/redact-secrets.ts';
export { parseMountinfo, mountsUnder, isMountPoint, type MountEntry } from './core/system-state/parse-mountinfo.ts';
export { createLogger, type ClosableLogger, type LoggerOptions } from './logging/create-logger.ts';
export { createConsoleRenderer, consoleStyleFor } from './logging/console-renderer.ts';
export { EVENTS, logEvent, type EventFields, type EventName } from './core/log-events.ts';
export { openRunLogDir, createPivotLog, RUN_LOG_FILES, type RunLogDir } from './logging/run-log-dir.ts';
export { runPhases, type RunPhasesOptions } from './phases/run-phases.ts';
export type * from './phases/types.ts';
export { RunStateSchema, type RunState, type StateStore } from './phases/state.ts';
export { openSystem, type System, type OpenSystemOptions } from './system/open-system.ts';
export { createRootedFs, type RootedFs, type DirEntry } from './system/rooted-fs.ts';
export { writeFileAtomic, type AtomicWriteOptions } from './system/atomic-write.ts';
export { createHostRunner, CommandError, type CommandRunner, type CommandResult, type RunOptions } from './system/run-command.ts';
export { createChrootSession, CHROOT_ENV, type ChrootSession } from './system/chroot-session.ts';
export { createStateFile } from './system/state-file.ts';
export { systemClock, type Clock } from './system/clock.ts';
export { readVdb, type Vdb, type ReadVdbOptions } from './system/gentoo/read-vdb.ts';
export { readConfigFiles } from './system/gentoo/read-config-files.ts';
export { readMakeConf } from './system/gentoo/read-make-conf.ts';
