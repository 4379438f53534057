import * as path from 'node:path';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { classifyDevice, describeDevice, type BlockDevice, type ProbedFilesystem } from '../core/rescue/block-devices.ts';
import { shellQuote } from '../core/shell-quote.ts';
import {
  BTRFS_ROOT_SUBVOLUMES,
  candidateName,
  chooseRoot,
  isGentoo,
  lookOnlyOptions,
  planFstabMounts,
  type KnownDevice,
  type PlannedMount,
  type RootCandidate,
  type RootForPlan,
} from '../core/rescue/rescue-plan.ts';
import { parseFstab } from '../core/system-state/fstab.ts';
import { stripControls } from '../logging/console-renderer.ts';
import {
  btrfsDefaultSubvolume,
  btrfsSubvolumeId,
  createMountDir,
  isBtrfsSubvolume,
  listBlockDevices,
  mountDevice,
  prepareMountPoint,
  probeFilesystem,
  readRootEvidence,
  removeMountDir,
  sweepMountDirs,
  unmount,
} from '../system/rescue-devices.ts';
import { createRootedFs } from '../system/rooted-fs.ts';
import { CommandError, type CommandRunner } from '../system/run-command.ts';

/**
 * `argo rescue`: from "booted the stick" to "logged in". Finds the Gentoo root among the block devices,
 * mounts it (and the /usr, /var and /boot its fstab names), runs the repair on it, and unmounts everything.
 * Must run in argo's private mount namespace (the CLI makes sure): every mount here dies with it.
 */

export interface RescueOptions {
  readonly runner: CommandRunner;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The device holding the root (a filesystem, or /dev/mapper/NAME of an opened LUKS container). */
  readonly device: string | undefined;
  /** btrfs: the subvolume holding the root, when the filesystem holds more than one Gentoo root. */
  readonly subvolume: string | undefined;
  /** Look only at these devices and what is on them (disks, partitions); default: every block device. */
  readonly scan: readonly string[];
  readonly mountPoint: string;
  /** Look and say what would be done: read-only mounts only, the repair in its dry-run mode. */
  readonly pretend: boolean;
  /** Runs the repair on the mounted root (argo recover); its outcome goes into the report as it is. */
  readonly repair: (root: string, pretend: boolean) => Promise<RepairOutcome>;
}

export interface RepairOutcome {
  readonly ok: boolean;
  readonly exitCode: number;
  readonly summary: string;
  readonly report: unknown;
}

export interface DeviceFinding {
  readonly device: string;
  readonly description: string;
  readonly verdict: 'probe' | 'locked' | 'skip';
  /** Why it is skipped, or what is locked and how to open it. */
  readonly detail: string;
}

export interface MountOutcome {
  readonly device: string;
  readonly at: string;
  readonly fsType: string;
  readonly options: readonly string[];
  /** `fstab:12` for an fstab entry, `root` for the root itself. */
  readonly from: string;
  readonly status: 'mounted' | 'failed' | 'skipped';
  readonly detail: string | undefined;
  unmounted?: 'unmounted' | 'detached' | 'failed';
}

export interface RescueReport {
  readonly pretend: boolean;
  readonly devices: readonly DeviceFinding[];
  readonly candidates: readonly RootCandidate[];
  readonly chosen: RootCandidate | undefined;
  readonly mountPoint: string;
  readonly mounts: readonly MountOutcome[];
  readonly repair: RepairOutcome | undefined;
}

export async function runRescue(options: RescueOptions): Promise<RescueReport> {
  if (!options.pretend) {
    const swept = await sweepMountDirs();
    if (swept.length > 0) options.logger.debug({ folders: swept }, 'Removed the empty probe folders of rescues that were killed');
  }
  const { devices, candidates, known } = await discover(options);
  const locked = devices.filter((finding) => finding.verdict === 'locked');
  const choice = chooseRoot(candidates, { device: options.device, subvolume: options.subvolume }, { lockedDevices: locked.map((finding) => finding.device) });
  if (choice.kind === 'none') throw noRootError(devices, candidates, options);
  if (choice.kind === 'several') {
    const list = choice.candidates.map((candidate) => `  ${shown(candidateName(candidate))}  ${shown(candidate.evidence.osName ?? 'Gentoo')}`).join('\n');
    const first = choice.candidates[0] as RootCandidate;
    throw new ArgoError('ARGO_RESCUE_AMBIGUOUS', `Found ${choice.candidates.length} Gentoo roots:\n${list}`, {
      hint: `Pick one: argo rescue --device ${shellQuote(first.device)}${first.subvolume === undefined ? '' : ` --subvolume ${shellQuote(first.subvolume)}`} ...`,
      details: { candidates: choice.candidates.map(candidateName) },
    });
  }
  if (choice.kind === 'unsure') {
    const lines = locked.map((finding) => `  ${shown(finding.description)}: ${shown(finding.detail)}`);
    throw new ArgoError('ARGO_RESCUE_AMBIGUOUS', `Found one Gentoo root, ${shown(candidateName(choice.candidate))}, but ${shown(choice.reason)}${lines.length > 0 ? `:\n${lines.join('\n')}` : ''}`, {
      hint: `If ${shown(candidateName(choice.candidate))} is the system to repair, say so: argo rescue --device ${shellQuote(choice.candidate.device)}${choice.candidate.subvolume === undefined ? '' : ` --subvolume ${shellQuote(choice.candidate.subvolume)}`} ...; otherwise open the locked device first and run again.`,
      details: { candidate: candidateName(choice.candidate), reason: choice.reason },
    });
  }
  const chosen = choice.candidate;
  const mounts: MountOutcome[] = [];
  // --pretend never creates the mount point: it looks in a private temporary folder instead.
  const mountPoint = options.pretend ? await createMountDir() : path.resolve(options.mountPoint);
  let repair: RepairOutcome | undefined;
  try {
    if (!options.pretend) await prepareMountPoint(mountPoint);
    const rootOptions = [...(options.pretend ? lookOnlyOptions(chosen.fsType) : ['rw']), ...subvolumeOptions(chosen)];
    await mountOne(options, mounts, { device: chosen.device, at: mountPoint, fsType: chosen.fsType, options: rootOptions, from: 'root' }, true);
    const diskOf = diskFinder(known);
    const plan = await fstabPlan(mountPoint, known, { device: chosen.device, fsType: chosen.fsType, sameDisk: (device) => diskOf(device) === diskOf(chosen.device) });
    for (const planned of plan) await mountFstabEntry(options, mounts, mountPoint, planned);
    // /usr, /var, /var/db/pkg, /var/log: without them the repair would work on the folders they hide.
    const missing = plan.filter((planned) => planned.required && !mounts.some((mount) => mount.from === `fstab:${planned.entry.line}` && mount.status === 'mounted'));
    if (missing.length > 0) {
      const lines = missing.map((planned) => {
        const outcome = mounts.find((mount) => mount.from === `fstab:${planned.entry.line}`);
        return `  fstab line ${planned.entry.line}: ${shown(planned.entry.source)} on ${shown(planned.entry.mountPoint)}: ${shown(outcome?.detail ?? planned.skip ?? 'not mounted')}`;
      });
      throw new ArgoError('ARGO_RESCUE_MOUNT_FAILED', `The repair needs what the root's fstab mounts there, and it could not be mounted; nothing was repaired:\n${lines.join('\n')}`, {
        hint: `Open, assemble or activate its device (cryptsetup open, mdadm --assemble --scan, vgchange -ay) and run again, or mount the root and these yourself and run argo recover --root ${options.pretend ? '/mnt/gentoo' : mountPoint}.`,
        details: { missing: missing.map((planned) => ({ line: planned.entry.line, source: planned.entry.source, mountPoint: planned.entry.mountPoint })) },
      });
    }
    repair = await options.repair(mountPoint, options.pretend);
  } finally {
    await unmountAll(options, mounts);
    if (options.pretend) await removeMountDir(mountPoint).catch(() => undefined);
  }
  return { pretend: options.pretend, devices, candidates, chosen, mountPoint: options.pretend ? options.mountPoint : mountPoint, mounts, repair };
}

interface Discovery {
  readonly devices: DeviceFinding[];
  readonly candidates: RootCandidate[];
  readonly known: KnownDevice[];
}

/** Every block device, identified by blkid; the ones in scope with a root filesystem looked into read-only. */
async function discover(options: RescueOptions): Promise<Discovery> {
  const all = await listBlockDevices(options.runner, options.signal);
  const byPath = new Map(all.map((device) => [device.path, device]));
  for (const wanted of [...options.scan, ...(options.device === undefined ? [] : [options.device])]) {
    if (!byPath.has(wanted)) {
      throw new ArgoError('ARGO_DEVICE_NOT_FOUND', `${wanted} is not a block device of this machine`, {
        hint: 'lsblk -o NAME,PATH,TYPE,SIZE lists them; an opened LUKS container is /dev/mapper/NAME.',
        details: { device: wanted },
      });
    }
  }
  // The scope is --scan (or every device); --device picks among what is found, it does not narrow the look:
  // a locked device beside it, or a second root, is still seen and reported.
  const inScope = (device: BlockDevice): boolean => {
    const roots = options.scan.length > 0 ? [...options.scan, ...(options.device === undefined ? [] : [options.device])] : [];
    if (roots.length === 0) return true;
    for (let current: BlockDevice | undefined = device; current !== undefined; current = current.parent === undefined ? undefined : byPath.get(current.parent)) {
      if (roots.includes(current.path)) return true;
    }
    return false;
  };
  const known: KnownDevice[] = [];
  const devices: DeviceFinding[] = [];
  const candidates: RootCandidate[] = [];
  for (const device of all) {
    if (device.sizeBytes === 0) continue; // an unused loop or an empty card reader slot
    let fs: ProbedFilesystem | undefined;
    let probeError: string | undefined;
    try {
      fs = await probeFilesystem(options.runner, device.path, options.signal);
    } catch (error) {
      // Two signatures (blkid's "ambivalent result"), an I/O error, a disk that does not answer: that device
      // is reported, the others are still looked at.
      if (options.signal.aborted) throw error;
      probeError = commandReason(error);
    }
    known.push({ device, fs });
    if (!inScope(device)) continue;
    if (probeError !== undefined) {
      const detail = `blkid -p could not identify it: ${probeError} (wipefs -n ${device.path} lists its signatures)`;
      logEvent(options.logger, 'rescue.device', { device: device.path, verdict: 'skip', detail });
      devices.push({ device: device.path, description: describeDevice(device, undefined), verdict: 'skip', detail });
      continue;
    }
    const verdict = classifyDevice(device, fs);
    const detail = verdict.kind === 'probe' ? verdict.fs.type : verdict.kind === 'locked' ? `${verdict.what}: ${verdict.howToOpen}` : verdict.reason;
    logEvent(options.logger, 'rescue.device', { device: device.path, verdict: verdict.kind, detail });
    const finding: DeviceFinding = { device: device.path, description: describeDevice(device, fs), verdict: verdict.kind, detail };
    devices.push(finding);
    if (verdict.kind !== 'probe') continue;
    try {
      candidates.push(...(await lookInto(options, device, verdict.fs)));
    } catch (error) {
      if (options.signal.aborted) throw error;
      const mountedAt = device.mountpoints.length > 0 ? ` (the live system has it mounted at ${device.mountpoints.join(', ')}: if that is the root, run argo recover --root ${device.mountpoints[0] as string})` : '';
      devices[devices.length - 1] = { ...finding, verdict: 'skip', detail: `${verdict.fs.type}, but it could not be looked into read-only: ${commandReason(error)}${mountedAt}` };
    }
  }
  return { devices, candidates, known };
}

/** Mounts the filesystem read-only (no journal or log replay) in a private folder and reads what it holds. */
async function lookInto(options: RescueOptions, device: BlockDevice, fs: ProbedFilesystem & { type: RootCandidate['fsType'] }): Promise<RootCandidate[]> {
  const dir = await createMountDir();
  const mounts: MountOutcome[] = [];
  try {
    const btrfs = fs.type === 'btrfs';
    const lookOptions = [...lookOnlyOptions(fs.type), 'nodev', 'nosuid', 'noexec', ...(btrfs ? ['subvolid=5'] : [])];
    await mountOne(options, mounts, { device: device.path, at: dir, fsType: fs.type, options: lookOptions, from: 'look' }, true);
    const candidate = async (subvolume: string | undefined, subvolumeId: string | undefined): Promise<RootCandidate> => {
      const evidence = await readRootEvidence(subvolume === undefined ? dir : path.join(dir, subvolume));
      const found: RootCandidate = {
        device: device.path,
        fsType: fs.type,
        uuid: fs.uuid,
        label: fs.label,
        sizeBytes: device.sizeBytes,
        removable: device.removable,
        subvolume,
        subvolumeId,
        evidence,
        gentoo: isGentoo(evidence),
      };
      logEvent(options.logger, 'rescue.candidate', { device: device.path, subvolume, gentoo: found.gentoo, os: evidence.osName });
      return found;
    };
    if (!btrfs) return [await candidate(undefined, undefined)];
    // The top level itself, the default subvolume, and the usual names; each subvolume looked into once, and
    // mounted later by its id (a name may hold a comma, which mount would read as another option).
    const subvolumes = new Map<string | undefined, string | undefined>([[undefined, '5']]);
    const defaultSubvolume = await btrfsDefaultSubvolume(options.runner, dir, options.signal);
    if (defaultSubvolume !== undefined) subvolumes.set(defaultSubvolume.path, defaultSubvolume.id);
    for (const name of BTRFS_ROOT_SUBVOLUMES) {
      if (!subvolumes.has(name) && (await isBtrfsSubvolume(path.join(dir, name)))) subvolumes.set(name, await btrfsSubvolumeId(options.runner, path.join(dir, name), options.signal));
    }
    const found: RootCandidate[] = [];
    for (const [subvolume, id] of subvolumes) found.push(await candidate(subvolume, id));
    return found;
  } finally {
    await unmountAll(options, mounts);
    await removeMountDir(dir).catch(() => undefined);
  }
}

const subvolumeOptions = (candidate: RootCandidate): string[] => (candidate.fsType !== 'btrfs' ? [] : [`subvolid=${candidate.subvolumeId ?? '5'}`]);

/** The whole disk a device is on (its topmost parent), for "is this fstab source on the root's disk". */
function diskFinder(known: readonly KnownDevice[]): (device: string) => string {
  const byPath = new Map(known.map((entry) => [entry.device.path, entry.device]));
  return (device) => {
    let current = byPath.get(device);
    while (current?.parent !== undefined && byPath.has(current.parent)) current = byPath.get(current.parent);
    return current?.path ?? device;
  };
}

/** fstab is read only when it is a regular file of a sane size: a FIFO or a device planted there is not opened. */
const MAX_FSTAB_BYTES = 1024 * 1024;

async function fstabPlan(mountPoint: string, known: readonly KnownDevice[], root: RootForPlan): Promise<PlannedMount[]> {
  const tree = createRootedFs(mountPoint);
  let stats;
  try {
    stats = await tree.stat('/etc/fstab');
  } catch {
    return [];
  }
  if (!stats.isFile() || stats.size > MAX_FSTAB_BYTES) {
    throw new ArgoError('ARGO_INVALID_INPUT', `The root's /etc/fstab is not a regular file of at most 1 MiB`, {
      hint: 'Look at it (ls -l etc/fstab in the root); mount the root and what its fstab should mount yourself and run argo recover --root.',
    });
  }
  return planFstabMounts(parseFstab(await tree.readText('/etc/fstab')), known, root);
}

/** What went wrong with a command, in one line: mount's own last line ("wrong fs type", "already mounted"). */
function commandReason(error: unknown): string {
  if (error instanceof CommandError) {
    // mount's own reason comes before its closing "dmesg(1) may have more information" line.
    const last = [...error.result.tail].reverse().find((line) => line.trim() !== '' && !/dmesg\(1\) may have more information/.test(line));
    return last === undefined ? error.message : `${last.trim()} (${error.result.argv[0] ?? 'command'} exited with status ${String(error.result.exitCode ?? error.result.signal)})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Text read from a disk is shown without its control characters (a planted PRETTY_NAME cannot redraw the screen). */
export const shown = stripControls;

/** One fstab entry, with nofail semantics: a failure is reported and the repair goes on without it. */
async function mountFstabEntry(options: RescueOptions, mounts: MountOutcome[], mountPoint: string, planned: PlannedMount): Promise<void> {
  const from = `fstab:${planned.entry.line}`;
  const base = { device: planned.device ?? planned.entry.source, fsType: planned.fsType, from };
  if (planned.skip !== undefined) {
    mounts.push({ ...base, at: planned.entry.mountPoint, options: planned.options, status: 'skipped', detail: planned.skip });
    return;
  }
  // The mount point is resolved inside the target (a symlink in it cannot send a mount onto the live system).
  const tree = createRootedFs(mountPoint);
  let at: string;
  try {
    at = await tree.resolve(planned.entry.mountPoint);
  } catch (error) {
    mounts.push({ ...base, at: planned.entry.mountPoint, options: planned.options, status: 'skipped', detail: `its mount point cannot be used: ${String(error)}` });
    return;
  }
  if (!(await tree.isDirectory(planned.entry.mountPoint).catch(() => false))) {
    mounts.push({ ...base, at, options: planned.options, status: 'skipped', detail: `${planned.entry.mountPoint} is not a folder in the root` });
    return;
  }
  const mountOptions = [...(options.pretend ? lookOnlyOptions(planned.fsType) : ['rw']), ...planned.options];
  await mountOne(options, mounts, { device: planned.device as string, at, fsType: planned.fsType, options: mountOptions, from }, false);
}

async function mountOne(
  options: RescueOptions,
  mounts: MountOutcome[],
  request: { device: string; at: string; fsType: string; options: readonly string[]; from: string },
  required: boolean,
): Promise<void> {
  const lookOnly = request.options.includes('ro');
  try {
    await mountDevice(options.runner, { device: request.device, at: request.at, fsType: request.fsType, options: request.options, lookOnly }, options.signal);
  } catch (error) {
    if (options.signal.aborted) throw error;
    const reason = commandReason(error);
    if (required) {
      throw new ArgoError('ARGO_MOUNT_FAILED', `${shown(request.device)} could not be mounted${lookOnly ? ' read-only' : ''}: ${shown(reason)}`, {
        cause: error,
        hint: `Check the filesystem first (${fsckHint(request.fsType, request.device)}), then run argo rescue again.`,
        details: { device: request.device, fsType: request.fsType, options: request.options },
      });
    }
    logEvent(options.logger, 'rescue.mount-failed', { device: request.device, at: request.at, reason });
    mounts.push({ ...request, status: 'failed', detail: reason });
    return;
  }
  logEvent(options.logger, 'rescue.mounted', { device: request.device, at: request.at, options: [...request.options] });
  mounts.push({ ...request, status: 'mounted', detail: undefined });
}

function fsckHint(fsType: string, device: string): string {
  if (fsType === 'xfs') return `xfs_repair -n ${device}; -L only as a last resort, it drops the log`;
  if (fsType === 'btrfs') return `btrfs check --readonly ${device}`;
  if (fsType.startsWith('ext')) return `e2fsck -f ${device}`;
  return `fsck -n ${device}`;
}

/** Deepest first; every one tried even when one fails (the namespace takes the rest down with it anyway). */
async function unmountAll(options: RescueOptions, mounts: readonly MountOutcome[]): Promise<void> {
  for (const mount of [...mounts].reverse()) {
    if (mount.status !== 'mounted' || mount.unmounted !== undefined) continue;
    try {
      mount.unmounted = await unmount(options.runner, mount.at, mount.options.includes('ro'));
      logEvent(options.logger, 'rescue.unmounted', { at: mount.at, how: mount.unmounted });
    } catch {
      mount.unmounted = 'failed';
    }
  }
}

function noRootError(devices: readonly DeviceFinding[], candidates: readonly RootCandidate[], options: RescueOptions): ArgoError {
  const lines = devices.map((finding) => {
    const inside = candidates
      .filter((candidate) => candidate.device === finding.device)
      .map((candidate) => `${candidate.subvolume === undefined ? '' : `subvol=${candidate.subvolume}: `}${candidate.evidence.osName ?? (candidate.evidence.looksLikeLinuxRoot ? 'a Linux root, not Gentoo' : 'not a Linux root')}`);
    return `  ${shown(finding.description)}: ${shown(inside.length > 0 ? inside.join('; ') : finding.detail)}`;
  });
  const locked = devices.filter((finding) => finding.verdict === 'locked');
  const where = options.device !== undefined ? ` on ${options.device}${options.subvolume === undefined ? '' : ` subvol=${options.subvolume}`}` : '';
  return new ArgoError('ARGO_RESCUE_NO_ROOT', `No Gentoo root found${where}. Looked at:\n${lines.join('\n') || '  (no block devices)'}`, {
    hint:
      locked.length > 0
        ? `Open the locked device${locked.length > 1 ? 's' : ''} first, then run argo rescue again: ${locked.map((finding) => shown(finding.detail.split(': ').slice(1).join(': '))).join('; ')}`
        : 'If the root is on a device not listed here, attach it (or load its driver) and run again; if it is mounted already, use argo recover --root.',
    details: { devices, candidates: candidates.map((candidate) => ({ name: candidateName(candidate), os: candidate.evidence.osName, gentoo: candidate.gentoo })) },
  });
}
