#!/usr/bin/env bash
# The main job on a sample: `argo recover` on a really broken system. The target is a Debian root shaped
# like a Gentoo install whose logins broke the way the incident's did: libcrypt built without SHA512-crypt,
# so real PAM refuses alice's right password. It gets a faithful fake emerge (Portage cannot run here) with
# a binary package of a good libxcrypt, as a binhost would offer. The demo shows the lock-out, runs the
# recovery, shows the login working and the report. The fixture cache is never modified.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --fixtures
export PATH="$PWD/node_modules/.bin:$PATH"
# shellcheck disable=SC1091
source "${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}/argo-fixture.env"

work=$(mktemp -d -p /var/tmp argo-demo-XXXXXX)
target="$work/gentoo"
cleanup() {
  findmnt -rn -o TARGET | grep -F "$target/" | sort -r | xargs -r umount -R --lazy || true
  umount "$target" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$target" "$work/upper" "$work/work"
# A private copy of the broken root (overlay: the cache stays untouched).
mount -t overlay argo-demo -o "lowerdir=$ARGO_FIXTURE_BROKEN,upperdir=$work/upper,workdir=$work/work" "$target"
bash test/chroot-fixtures/install-fake-emerge.sh "$target" BINARY=ok >/dev/null
# And two more of the common causes on top, as a locked-out admin finds them: a maintenance nologin file left
# behind, and an account whose expiry date passed.
printf 'System maintenance\n' > "$target/etc/nologin"
chroot "$target" chage -E 2020-01-01 alice
printf 'correct horse\n' > "$work/password"
chmod 600 "$work/password"

login() { printf 'correct horse\n' | chroot "$target" pamtester -I tty=tty1 login alice authenticate acct_mgmt >/dev/null 2>&1; }
echo
echo "== before: a real PAM login of alice with her right password"
if login; then echo "   login works (unexpected: the fixture should be broken)"; else echo "   REFUSED: nobody can log in"; fi
mounts_before=$(wc -l < /proc/self/mountinfo)

echo
echo "== argo recover --root $target --user alice --password-file $work/password"
status=0
node dist/cli/argo.js recover --root "$target" --user alice --password-file "$work/password" || status=$?
echo "   (exit $status)"

echo
echo "== after: the same login"
if login; then echo "   login works"; else echo "   still refused"; fi
echo "== host mount table: $(wc -l < /proc/self/mountinfo) entries, $mounts_before before the run"
report=$(ls -d "$target"/var/log/argo/recovery-*/ | tail -n 1)
echo "== the run's log folder: $report"
ls -l "$report"
echo "== pivots.log:"; cat "$report/pivots.log"
echo "== report.json (login, causes, phases):"
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.outcome, JSON.stringify(r.login)); for (const c of r.causes) console.log(`   cause ${c.id.padEnd(24)} ${c.status}`); for (const p of r.phases) console.log(`   ${p.id.padEnd(18)} ${p.status.padEnd(10)} ${p.durationMs} ms${p.reason ? "  (" + p.reason + ")" : ""}`); if (r.undo) console.log(`   undo: ${r.undo}`);' "$report/report.json"
exit "$status"
