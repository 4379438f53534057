import * as path from 'node:path';
import { isArgoError } from '../core/errors.ts';
import { mountContaining, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import type { System } from '../system/open-system.ts';
import { createBtrfsBackend } from './btrfs-backend.ts';
import { parseSnapperConfig } from './parse-snapper-config.ts';
import { createSnapperBackend, type SnapperInvocation } from './snapper-backend.ts';
import { snapshotError } from './snapshot-errors.ts';
import type { SnapshotBackend } from './types.ts';

export type BackendDetection =
  | { readonly kind: 'snapper'; readonly config: string; readonly invocation: SnapperInvocation; readonly fsType: string; readonly reason: string }
  | { readonly kind: 'btrfs'; readonly fsType: string; readonly reason: string }
  | { readonly kind: 'none'; readonly fsType: string | undefined; readonly reason: string };

const SNAPPER_CONFIGS = '/etc/snapper/configs';

/**
 * Chooses how the target root is snapshotted: snapper when the target has a snapper config for `/`, plain
 * btrfs when the root is a btrfs subvolume, otherwise none, with the reason. The filesystem comes from the
 * host's mountinfo (the mount holding the root), the subvolume check from `btrfs subvolume show`.
 */
export async function detectSnapshotBackend(system: System, signal?: AbortSignal): Promise<BackendDetection> {
  const entries = parseMountinfo(await system.host.readText('/proc/self/mountinfo'));
  const fsType = mountContaining(entries, system.root)?.fsType;
  if (fsType !== 'btrfs') {
    return { kind: 'none', fsType, reason: `${system.root} is ${fsType ?? 'on an unknown filesystem'}: no snapshots possible` };
  }
  try {
    await system.hostCommands.run('btrfs', ['subvolume', 'show', system.root], { signal, mutates: false });
  } catch (error) {
    if (isArgoError(error, 'ARGO_COMMAND_NOT_FOUND')) {
      return { kind: 'none', fsType, reason: `${system.root} is btrfs but the btrfs program is missing here (install btrfs-progs)` };
    }
    if (!isArgoError(error, 'ARGO_COMMAND_FAILED')) throw error;
    return { kind: 'none', fsType, reason: `${system.root} is a folder on btrfs, not a subvolume: no snapshots possible` };
  }
  const config = await findRootConfig(system);
  if (config === undefined) return { kind: 'btrfs', fsType, reason: `${system.root} is a btrfs subvolume without a snapper config for /` };
  const invocation = await chooseInvocation(system, signal);
  if (invocation === undefined) {
    return { kind: 'btrfs', fsType, reason: `snapper config ${config} found but no snapper to run it, on this system or in the target` };
  }
  return { kind: 'snapper', config, invocation, fsType, reason: `snapper config ${config} has SUBVOLUME="/"` };
}

/** The snapper config whose SUBVOLUME is `/`; `root` wins when several are. */
async function findRootConfig(system: System): Promise<string | undefined> {
  if (!(await system.target.isDirectory(SNAPPER_CONFIGS))) return undefined;
  const found: string[] = [];
  for (const entry of await system.target.readdir(SNAPPER_CONFIGS)) {
    if (entry.type !== 'file') continue;
    const values = parseSnapperConfig(await system.target.readText(path.posix.join(SNAPPER_CONFIGS, entry.name)));
    if (values['SUBVOLUME'] === '/') found.push(entry.name);
  }
  return found.includes('root') ? 'root' : found[0];
}

async function chooseInvocation(system: System, signal?: AbortSignal): Promise<SnapperInvocation | undefined> {
  if (await hostHasSnapper(system, signal)) return system.isForeignRoot ? 'host-root' : 'host';
  if (system.isForeignRoot && (await system.target.exists('/usr/bin/snapper'))) return 'chroot';
  return undefined;
}

async function hostHasSnapper(system: System, signal?: AbortSignal): Promise<boolean> {
  try {
    await system.hostCommands.run('snapper', ['--version'], { signal, mutates: false });
    return true;
  } catch (error) {
    if (isArgoError(error, 'ARGO_COMMAND_NOT_FOUND') || isArgoError(error, 'ARGO_COMMAND_FAILED')) return false;
    throw error;
  }
}

export interface OpenBackendOptions {
  readonly minFreeBytes?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The backend for the target root, or ARGO_SNAPSHOT_UNAVAILABLE with the reason. */
export async function openSnapshotBackend(system: System, options: OpenBackendOptions = {}): Promise<{ backend: SnapshotBackend; detection: BackendDetection }> {
  const detection = await detectSnapshotBackend(system, options.signal);
  switch (detection.kind) {
    case 'snapper':
      return { detection, backend: createSnapperBackend({ system, config: detection.config, invocation: detection.invocation, ...options }) };
    case 'btrfs':
      return { detection, backend: createBtrfsBackend({ system, ...options }) };
    case 'none':
      throw snapshotError('ARGO_SNAPSHOT_UNAVAILABLE', `Cannot snapshot ${system.root}: ${detection.reason}`, {
        hint: 'Snapshots need a btrfs subvolume as root; take a backup another way before updating.',
        details: { root: system.root, fsType: detection.fsType },
      });
  }
}
