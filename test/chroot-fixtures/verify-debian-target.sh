#!/usr/bin/env bash
# verify-debian-target.sh - check, inside a fixture root made by
# build-debian-target.sh, whether SHA-512 crypt and PAM logins work.
#
# Usage: verify-debian-target.sh [--expect good|broken] <root>
#
# Without --expect, a root whose sys-libs/libxcrypt vdb entry has an
# EXTRA_ECONF lacking sha512crypt is expected to be broken, any other good.
#   good:   crypt("$6$...") gives the glibc test vector, pamtester and
#           unix_chkpwd accept alice's and root's passwords
#   broken: crypt gives "*0", pamtester and unix_chkpwd reject them
# A wrong password must be rejected on both (control).
#
# Nothing is mounted: every command used works in a debootstrap root without
# /proc or a /dev mount (debootstrap creates static /dev nodes). The script
# checks before and after that nothing is mounted below the root.
# Exit status: 0 when every check matches the expectation, 1 otherwise.
set -Eeuo pipefail
export LC_ALL=C

usage() { sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "$0"; }
EXPECT=auto
while (( $# )); do
    case $1 in
        --expect) EXPECT=${2:?--expect needs good or broken}; shift 2 ;;
        --expect=*) EXPECT=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "verify-debian-target: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
(( $# == 1 )) || { usage >&2; exit 2; }
ROOT=$(readlink -f -- "$1")
[ -x "$ROOT/usr/bin/perl" ] || { echo "verify-debian-target: $ROOT is not a fixture root" >&2; exit 2; }
(( EUID == 0 )) || { echo "verify-debian-target: must run as root (chroot)" >&2; exit 2; }

SHA512_EXPECTED='$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'
CREDS=$(dirname -- "$ROOT")/credentials.txt
pw_of() { # user -> password from credentials.txt (user:password lines)
    [ -r "$CREDS" ] || return 1
    awk -v u="$1" 'index($0, u ":") == 1 { print substr($0, length(u) + 2); exit }' "$CREDS"
}
ALICE_PW=$(pw_of alice || true); ALICE_PW=${ALICE_PW:-correct horse}
ROOT_PW=$(pw_of root || true);   ROOT_PW=${ROOT_PW:-argo fixture root}

mounted_below() {
    awk -v top="$ROOT" '{ p=$5; gsub(/\\040/," ",p); if (p == top || index(p, top "/") == 1) print p }' /proc/self/mountinfo
}
in_root() {
    env -i HOME=/root LC_ALL=C TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$ROOT" "$@"
}

vdb=( "$ROOT"/var/db/pkg/sys-libs/libxcrypt-* )
if [ "$EXPECT" = auto ]; then
    EXPECT=good
    if [ -e "${vdb[0]}/EXTRA_ECONF" ] && grep -q -- '--enable-hashes=' "${vdb[0]}/EXTRA_ECONF" \
       && ! grep -q 'sha512crypt\|=all\b' "${vdb[0]}/EXTRA_ECONF"; then
        EXPECT=broken
    fi
fi
case $EXPECT in good|broken) ;; *) echo "verify-debian-target: --expect must be good or broken" >&2; exit 2 ;; esac

PASS=0 FAIL=0
result() { # ok? description
    if [ "$1" = 1 ]; then PASS=$((PASS + 1)); echo "    => PASS: $2"
    else FAIL=$((FAIL + 1)); echo "    => FAIL: $2"; fi
}
# run LABEL STDIN-STRING CMD... : prints the command, its output and exit code; sets RC, OUT.
run() {
    local label=$1 input=$2 t0; shift 2
    t0=$EPOCHREALTIME
    echo "--- $label"
    echo "    \$ chroot $ROOT ${*@Q}"
    RC=0
    OUT=$(printf '%b' "$input" | in_root "$@" 2>&1) || RC=$?
    if [ -n "$OUT" ]; then printf '%s\n' "$OUT" | sed 's/^/    | /'; else echo "    | (no output)"; fi
    echo "    exit=$RC time=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')s"
}

echo "=== verify $ROOT (expect: $EXPECT)"
[ -z "$(mounted_below)" ] || { echo "refusing: something is mounted below $ROOT:"; mounted_below; exit 1; }
echo "debian: $(cat "$ROOT/etc/debian_version")  libcrypt1 $(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Version}' libcrypt1)"
real=$(in_root readlink -f /lib/x86_64-linux-gnu/libcrypt.so.1)
disk_md5=$(md5sum <"$ROOT$real" | cut -d' ' -f1)
echo "libcrypt.so.1 -> $real  md5 $disk_md5"
if (( ${#vdb[@]} == 1 )); then
    echo "vdb: ${vdb[0]#"$ROOT"}  EXTRA_ECONF: $(cat "${vdb[0]}/EXTRA_ECONF" 2>/dev/null || echo '(none)')"
    vdb_md5=$(awk '$1 == "obj" && $2 == "/lib/x86_64-linux-gnu/libcrypt.so.1.1.0" { print $3 }' "${vdb[0]}/CONTENTS")
    echo "--- CONTENTS md5 of /lib/x86_64-linux-gnu/libcrypt.so.1.1.0: $vdb_md5"
    result "$([ "$vdb_md5" = "$disk_md5" ] && echo 1)" "vdb CONTENTS md5 matches the file on disk"
else
    result 0 "exactly one sys-libs/libxcrypt-* vdb entry (found ${#vdb[@]})"
fi

run "SHA-512 crypt via perl" '' perl -e 'print crypt("Hello world!", q($6$saltstring))'
if [ "$EXPECT" = good ]; then
    result "$([ "$OUT" = "$SHA512_EXPECTED" ] && echo 1)" "crypt gives the glibc SHA-512 test vector"
else
    result "$([ "$OUT" = '*0' ] && echo 1)" "crypt gives *0 (sha512crypt missing)"
fi

# pamtester reads the password from stdin when stdin is not a tty (libpam_misc
# misc_conv prints the "Password: " prompt on stderr and reads a line).
run "pamtester login alice authenticate (correct password on stdin)" "${ALICE_PW//\\/\\\\}" \
    pamtester login alice authenticate
if [ "$EXPECT" = good ]; then result "$([ "$RC" = 0 ] && echo 1)" "alice can log in (exit 0)"
else result "$([ "$RC" != 0 ] && echo 1)" "alice can NOT log in (exit non-zero)"; fi

run "pamtester login alice authenticate (wrong password, control)" "not the password" \
    pamtester login alice authenticate
result "$([ "$RC" != 0 ] && echo 1)" "a wrong password is rejected"

# unix_chkpwd wants the password NUL-terminated on stdin (pam_unix writes it
# so); without the NUL it checks an empty password and fails with 7.
for u in alice root; do
    if [ "$u" = alice ]; then pw=$ALICE_PW; else pw=$ROOT_PW; fi
    run "unix_chkpwd $u nullok (password + NUL on stdin)" "${pw//\\/\\\\}\\0" /sbin/unix_chkpwd "$u" nullok
    if [ "$EXPECT" = good ]; then result "$([ "$RC" = 0 ] && echo 1)" "unix_chkpwd accepts $u (exit 0)"
    else result "$([ "$RC" = 7 ] && echo 1)" "unix_chkpwd rejects $u (exit 7 = PAM_AUTH_ERR)"; fi
done

[ -z "$(mounted_below)" ] && result 1 "nothing mounted below $ROOT" || result 0 "nothing mounted below $ROOT"
echo "=== $ROOT: $PASS passed, $FAIL failed (expect: $EXPECT)"
(( FAIL == 0 ))
