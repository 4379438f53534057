import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURE_CACHE } from './debian-target.ts';

const run = promisify(execFile);

/**
 * A Debian bookworm minbase root with the `openrc` package: the init scripts of the swarm are checked by
 * OpenRC's own tools inside it. Built once per machine under <cache>/openrc-root/<key>/root, where the key is
 * a hash of everything that decides its content (this builder, the suite, the mirror, the packages); a changed
 * builder gets a new folder. Built under the fixture cache's lock (the one build-debian-target.ts holds), with
 * debootstrap's downloads in the shared debs/ cache and its /proc and /sys mounts in a private mount namespace;
 * a build is made in a temporary folder and renamed into place, so an interrupted one leaves nothing usable.
 */
const SUITE = 'bookworm';
const MIRROR = process.env['ARGO_FIXTURE_MIRROR'] ?? 'http://deb.debian.org/debian';
const PACKAGES = ['openrc'];

const BUILDER = String.raw`
set -Eeuo pipefail
cache=$1 dir=$2 suite=$3 mirror=$4 packages=$5
export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p "$cache/debs" "$dir"
exec 9>"$cache/.lock"
flock -w 1800 9 || { echo "timed out waiting for $cache/.lock" >&2; exit 1; }
[ -f "$dir/stamp" ] && [ -x "$dir/root/sbin/openrc-run" ] && exit 0
# Leftovers of an interrupted build: nobody else builds while we hold the lock.
for old in "$dir"/.root.tmp.*; do [ -e "$old" ] && rm -rf --one-file-system -- "$old"; done
tmp=$(mktemp -d -p "$dir" .root.tmp.XXXXXX)
unshare --mount --propagation private -- \
    debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debs" "$suite" "$tmp/root" "$mirror" >"$dir/debootstrap.log" 2>&1 \
    || { tail -n 40 "$dir/debootstrap.log" >&2; rm -rf --one-file-system -- "$tmp"; exit 1; }
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$tmp/root" dpkg-query -W openrc >/dev/null
chroot "$tmp/root" apt-get clean
rm -rf -- "$tmp/root"/var/lib/apt/lists/*_Packages "$tmp/root"/var/lib/apt/lists/*_InRelease
rm -rf -- "$dir/root"
mv -T -- "$tmp/root" "$dir/root"
rmdir -- "$tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/stamp"
`;

/** The cached OpenRC root (built on first use; a few minutes, then instant). Never change it: copy it. */
export async function openrcRoot(): Promise<string> {
  const key = createHash('sha256').update([BUILDER, SUITE, MIRROR, PACKAGES.join(',')].join('\n')).digest('hex').slice(0, 16);
  const dir = join(FIXTURE_CACHE, 'openrc-root', key);
  await run('bash', ['-c', BUILDER, 'openrc-root', FIXTURE_CACHE, dir, SUITE, MIRROR, PACKAGES.join(',')], { maxBuffer: 16 * 1024 * 1024, timeout: 30 * 60_000 });
  return join(dir, 'root');
}

export interface OpenrcRootCopy {
  readonly root: string;
  remove(): Promise<void>;
}

/** A private overlay of the cached root: the test changes it freely, the cache is never touched. */
export async function copyOpenrcRoot(): Promise<OpenrcRootCopy> {
  const source = await openrcRoot();
  const dir = await mkdtemp('/var/tmp/argo-openrc-');
  const root = join(dir, 'root');
  for (const name of ['root', 'upper', 'work']) await mkdir(join(dir, name));
  await run('mount', ['-t', 'overlay', 'argo-openrc', '-o', `lowerdir=${source},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
  return {
    root,
    async remove() {
      const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
      const points = stdout.split('\n').filter((point) => point === root || point.startsWith(`${root}/`)).sort().reverse();
      for (const point of points) await run('umount', ['--lazy', point]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
