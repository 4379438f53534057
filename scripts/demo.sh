#!/usr/bin/env bash
# The main job on a sample: a Debian root shaped like a Gentoo system whose logins broke the way the
# incident's did (libcrypt without SHA512-crypt), entered with `argo chroot` to show the breakage with the
# system's own perl and PAM. Every mount comes down afterwards; the fixture cache is never modified.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --fixtures
export PATH="$PWD/node_modules/.bin:$PATH"
# shellcheck disable=SC1091
source /var/cache/argo-fixtures/argo-fixture.env

work=$(mktemp -d -t argo-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
printf 'correct horse' > "$work/password"
chmod 600 "$work/password"
mounts_before=$(wc -l < /proc/self/mountinfo)

show() { # show NAME ROOT: the crypt test and a real PAM login inside the root
  local name=$1 source=$2 target="$work/$1"
  echo
  echo "===== $name: a copy of $source"
  cp -a "$source" "$target"
  echo "-- SHA512-crypt known-answer test with the target's own libcrypt (expected \$6\$saltstring\$svn8Uo…, '*0' = unsupported):"
  node dist/cli/argo.js chroot --root "$target" --log-file "$work/chroot.log" -- \
    perl -e 'print crypt("Hello world!", q($6$saltstring)), "\n"'
  echo "-- a real PAM login (pamtester login alice authenticate) with alice's right password:"
  if node dist/cli/argo.js chroot --root "$target" --log-file "$work/chroot.log" --input "$work/password" -- \
       pamtester login alice authenticate; then
    echo "   => login works"
  else
    echo "   => login REFUSED with the right password: the lock-out that argo recover repairs"
  fi
}

show healthy "$ARGO_FIXTURE_BASE"
show broken "$ARGO_FIXTURE_BROKEN"

mounts_after=$(wc -l < /proc/self/mountinfo)
echo
echo "===== host mount table: $mounts_before entries before, $mounts_after after"
echo "===== events of the four chroot sessions (JSON-lines log):"
grep -o '"event":"[a-z.-]*"' "$work/chroot.log" | sort | uniq -c
