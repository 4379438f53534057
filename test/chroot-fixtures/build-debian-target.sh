#!/usr/bin/env bash
# build-debian-target.sh - build real Debian chroots shaped like a Gentoo
# system whose logins broke because libxcrypt lost SHA512-crypt, for the
# end-to-end tests of `argo recover`.
#
# Everything is built under ${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures},
# outside the clone:
#
#   debian-base/          bookworm minbase + PAM/login/openrc + toolchain
#                         (gcc, make, libc6-dev, xz-utils) + Gentoo shape,
#                         the libxcrypt distfile and a stand-in /usr/bin/xdm
#   debian-broken/        copy of debian-base with a libcrypt built WITHOUT
#                         sha512crypt installed over the real one, and the
#                         display-manager service out of the default runlevel
#   libcrypt-broken/      that library (libcrypt.so.1.1.0) + BUILD-INFO
#   libcrypt-good/        the same Debian source built with all hashes
#   distfiles/            libxcrypt-<ver>.tar.xz, a release-style tarball
#                         (autoreconf + make dist-xz of upstream's source)
#   fake-emerge/          GPKG + stash for install-fake-emerge.sh (warmed here)
#   credentials.txt       test passwords (mode 0600)
#   argo-fixture.env      machine-readable summary (paths, versions, timings)
#   logs/ src/ debs/ apt-src/ .stamps/   build logs, download caches, stamps
#
# Idempotent: each part has a stamp whose key includes the sha256 of this
# script, so a second run is a no-op and a changed builder rebuilds.
# Interrupt-safe: each part is built in a temp dir next to the final one and
# mv'ed into place; the only mounts (debootstrap's /proc, /sys) live in a
# private mount namespace (unshare -m) that the kernel tears down with the
# process, and an EXIT trap unmounts anything left below the cache anyway.
#
# Usage: build-debian-target.sh [--force] [--help]
# Env:   ARGO_FIXTURE_CACHE   cache dir (default /var/cache/argo-fixtures)
#        ARGO_FIXTURE_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#        ARGO_FIXTURE_PYTHON  1 (default) to include python3-minimal and ctypes, 0 to omit
#        ARGO_FIXTURE_TOOLCHAIN  1 (default) to include gcc, make, libc6-dev and
#                             xz-utils (the manual-build pivot needs them), 0 to omit
# Last line of output:
#   ARGO_FIXTURE base=<path> broken=<path> good_lib=<path> broken_lib=<path>
set -Eeuo pipefail
shopt -s nullglob
umask 022

PROG=build-debian-target
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
CACHE=$(readlink -m -- "${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}")
MIRROR=${ARGO_FIXTURE_MIRROR:-http://deb.debian.org/debian}
WITH_PYTHON=${ARGO_FIXTURE_PYTHON:-1}
WITH_TOOLCHAIN=${ARGO_FIXTURE_TOOLCHAIN:-1}
SUITE=bookworm
MULTIARCH=x86_64-linux-gnu
# Gentoo-side names of what the Debian root really contains.
GENTOO_LIBXCRYPT_PF=libxcrypt-4.4.36   # Debian bookworm ships 4.4.33; see README
GENTOO_PAM_PF=pam-1.5.2
GENTOO_GLIBC_PF=glibc-2.36
ALICE_PASSWORD='correct horse'
ROOT_PASSWORD='argo fixture root'
SHA512_EXPECTED='$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'

BASE=$CACHE/debian-base
BROKEN=$CACHE/debian-broken
LIB_GOOD=$CACHE/libcrypt-good
LIB_BROKEN=$CACHE/libcrypt-broken
CREDS=$CACHE/credentials.txt
ENVFILE=$CACHE/argo-fixture.env
STAMPS=$CACHE/.stamps
LOGS=$CACHE/logs
DISTFILES=$CACHE/distfiles
SELF_DIR=$(dirname -- "$SELF")

export LC_ALL=C DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

FORCE=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "$SELF"; exit 0 ;;
        *) echo "$PROG: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

# ---------------------------------------------------------------- plumbing
STEP=startup
STEP_T0=$EPOCHREALTIME
RUN_T0=$EPOCHREALTIME
declare -a TMP_DIRS=()
declare -a TIMINGS=()

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: ERROR in step "%s": %s\n' "$PROG" "$STEP" "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
step() { STEP=$1; STEP_T0=$EPOCHREALTIME; log "==> [$STEP] ${2:-}"; }
step_done() {
    local t; t=$(elapsed "$STEP_T0")
    TIMINGS+=("$STEP=${t}s")
    log "<== [$STEP] done in ${t}s"
}

on_err() {
    local rc=$? cmd=$BASH_COMMAND line=${BASH_LINENO[0]}
    # Report once, from the top-level shell, not from every subshell.
    (( BASH_SUBSHELL == 0 )) || return 0
    printf '%s: ERROR in step "%s": command failed (exit %s) at line %s: %s\n' \
        "$PROG" "$STEP" "$rc" "$line" "$cmd" >&2
}
trap on_err ERR

# Mount points at or below $1, deepest first (mountinfo field 5, \040 unescaped).
mounts_below() {
    local top=$1
    awk -v top="$top" '{ p=$5; gsub(/\\040/," ",p)
        if (p == top || index(p, top "/") == 1) print p }' /proc/self/mountinfo | sort -r
}
unmount_below() {
    local m
    while IFS= read -r m; do
        [ -n "$m" ] || continue
        log "unmounting leftover mount $m"
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done < <(mounts_below "$1")
}
# rm -rf that refuses to cross into anything still mounted.
safe_rm() {
    local d=$1
    [ -e "$d" ] || [ -L "$d" ] || return 0
    case $d in "$CACHE"/?*) ;; *) die "refusing to remove $d (outside $CACHE)";; esac
    unmount_below "$d"
    [ -z "$(mounts_below "$d")" ] || die "something is still mounted below $d; not removing it"
    rm -rf --one-file-system -- "$d"
}
cleanup() {
    local rc=$? d
    trap - ERR
    for d in "${TMP_DIRS[@]}"; do
        unmount_below "$d"
        if [ -z "$(mounts_below "$d")" ]; then rm -rf --one-file-system -- "$d"; fi
    done
    unmount_below "$CACHE"
    if (( rc != 0 )); then
        log "FAILED in step \"$STEP\" (exit $rc) after $(elapsed "$RUN_T0")s; logs in $LOGS/"
    fi
    return "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
exec </dev/null   # CI has no stdin; nothing below may prompt

# A temp dir next to the final one (same filesystem, so the final mv is
# atomic), in $TMP. Not called as $(make_tmp): the EXIT trap needs the list.
make_tmp() {
    TMP=$(mktemp -d -p "$CACHE" ".$1.tmp.XXXXXX")
    TMP_DIRS+=("$TMP")
}
# Replace $2 by $1 with two renames; the old tree is removed afterwards.
install_dir() {
    local src=$1 dst=$2 old
    if [ -e "$dst" ]; then
        old=$(mktemp -u -p "$CACHE" ".$(basename "$dst").old.XXXXXX")
        mv -T -- "$dst" "$old"
        TMP_DIRS+=("$old")
    fi
    mv -T -- "$src" "$dst"
}

# Run a command with output to logs/<name>.log; on failure show its tail.
run_logged() {
    local name=$1; shift
    local logf=$LOGS/$name.log rc=0
    printf '+ %s\n' "$*" >>"$logf"
    "$@" >>"$logf" 2>&1 || rc=$?
    if (( rc != 0 )); then
        log "command failed (exit $rc): $*"
        log "---- last lines of $logf ----"
        tail -n 40 "$logf" >&2 || true
        log "---- end of $logf ----"
    fi
    return "$rc"
}

# Run a command inside a root with a clean environment; needs no mounts.
in_root() {
    local root=$1; shift
    env -i HOME=/root LC_ALL=C TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        chroot "$root" "$@"
}

APT_UPDATED=0
ensure_host_pkgs() {
    local p missing=()
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" != "ii " ]; then
            missing+=("$p")
        fi
    done
    (( ${#missing[@]} )) || return 0
    log "installing on the host: ${missing[*]}"
    if (( ! APT_UPDATED )); then
        run_logged host-apt apt-get update -q || die "apt-get update failed"
        APT_UPDATED=1
    fi
    run_logged host-apt apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
}

sha256() { sha256sum | cut -d' ' -f1; }
# KEY=VALUE line readable both by `source` and by a naive KEY=VALUE parser:
# bare when the value is shell-safe, else single-quoted.
kv() {
    if [[ $2 =~ ^[A-Za-z0-9_./:,+=@%-]*$ ]]; then printf '%s=%s\n' "$1" "$2"
    else printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; fi
}
SCRIPT_SHA=$(sha256sum "$SELF" | cut -d' ' -f1)
key_base()   { printf 'base\n%s\n%s\n%s\n%s\n%s\n' "$SCRIPT_SHA" "$SUITE" "$WITH_PYTHON" "$MIRROR" "$WITH_TOOLCHAIN" | sha256; }
key_libs()   { printf 'libs\n%s\n%s\n' "$SCRIPT_SHA" "$(key_base)" | sha256; }
key_broken() { printf 'broken\n%s\n%s\n%s\n' "$SCRIPT_SHA" "$(key_base)" "$(key_libs)" | sha256; }
stamp_ok() { # name key paths...
    local name=$1 key=$2 p; shift 2
    (( FORCE == 0 )) || return 1
    [ -f "$STAMPS/$name" ] && grep -qx "key=$key" "$STAMPS/$name" || return 1
    for p in "$@"; do [ -e "$p" ] || return 1; done
}
stamp_write() { # name key
    local t; t=$(mktemp -p "$STAMPS" ".$1.XXXXXX")
    printf 'key=%s\nbuilder_sha256=%s\nbuilt_at=%s\n' "$2" "$SCRIPT_SHA" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$t"
    mv -f -- "$t" "$STAMPS/$1"
}
stamp_clear() { rm -f -- "$STAMPS/$1"; }

# ------------------------------------------------------------- vdb helpers
# put DIR FILE VALUE: one vdb file, with trailing newline like Portage.
put() { printf '%s\n' "$3" >"$1/$2"; }

# Lists the files of Debian packages inside ROOT as Portage CONTENTS lines.
# Runs in the chroot so that absolute symlinks resolve against ROOT.
# Output lines: "C <CONTENTS line>", "S <bytes>", "E <path>\t<realpath>" (ELF).
scan_pkgs() {
    local root=$1; shift
    in_root "$root" /bin/bash -s -- "$@" <<'EOS'
set -euo pipefail
for pkg in "$@"; do dpkg-query -L "$pkg"; done |
  awk '/^\// && $0 != "/." && !seen[$0]++' |
  while IFS= read -r p; do
    if [ -L "$p" ] && [ ! -d "$p" ]; then
      printf 'C sym %s -> %s %s\n' "$p" "$(readlink -- "$p")" "$(stat -c %Y -- "$p")"
    elif [ -d "$p" ]; then
      printf 'C dir %s\n' "$p"
    elif [ -f "$p" ]; then
      sum=$(md5sum <"$p"); sum=${sum%% *}
      printf 'C obj %s %s %s\n' "$p" "$sum" "$(stat -c %Y -- "$p")"
      printf 'S %s\n' "$(stat -c %s -- "$p")"
      if [ "$(od -An -tx1 -N4 -- "$p" | tr -d ' \n')" = 7f454c46 ]; then
        printf 'E %s\t%s\n' "$p" "$(readlink -f -- "$p")"
      fi
    fi
  done
EOS
}

# soname;rpath;needed,needed of one ELF file (empty output: no dynamic section).
elf_dyn() {
    readelf -d --wide -- "$1" 2>/dev/null | awk '
        function val(s) { match(s, /\[.*\]/); return substr(s, RSTART + 1, RLENGTH - 2) }
        /There is no dynamic section/ { nodyn = 1 }
        /\(NEEDED\)/            { n = n (n == "" ? "" : ",") val($0) }
        /\(SONAME\)/            { so = val($0) }
        /\((RPATH|RUNPATH)\)/   { rp = val($0) }
        END { if (!nodyn) printf "%s;%s;%s\n", so, rp, n }'
}

# write_vdb ROOT DIR COUNTER PROVIDES_OVERRIDE pkgs...
# Writes CONTENTS, SIZE, NEEDED, NEEDED.ELF.2, PROVIDES, REQUIRES and COUNTER
# computed from the real files of the Debian packages.
write_vdb_files() {
    local root=$1 dir=$2 counter=$3 provides=$4; shift 4
    local scan size=0 line path real dyn so rp needed
    local -a more=()
    local -a needed_lines=() elf2_lines=() sonames=() reqs=()
    scan=$(scan_pkgs "$root" "$@") || die "listing files of $* in $root failed"
    printf '%s\n' "$scan" | sed -n 's/^C //p' >"$dir/CONTENTS"
    while IFS= read -r line; do size=$(( size + ${line#S } )); done < <(printf '%s\n' "$scan" | grep '^S ')
    while IFS=$'\t' read -r path real; do
        path=${path#E }
        dyn=$(elf_dyn "$root$real")
        [ -n "$dyn" ] || continue
        IFS=';' read -r so rp needed <<<"$dyn"
        elf2_lines+=("X86_64;$path;$so;$rp;$needed;x86_64")
        [ -z "$needed" ] || needed_lines+=("$path $needed")
        if [ -n "$so" ] && [[ $path =~ ^/(usr/)?lib(64)?/($MULTIARCH/)?[^/]+$ ]]; then sonames+=("$so"); fi
        if [ -n "$needed" ]; then IFS=, read -r -a more <<<"$needed"; reqs+=("${more[@]}"); fi
    done < <(printf '%s\n' "$scan" | grep '^E ' || true)
    put "$dir" SIZE "$size"
    printf '%s\n' "${needed_lines[@]}" >"$dir/NEEDED"
    printf '%s\n' "${elf2_lines[@]}" >"$dir/NEEDED.ELF.2"
    if [ -z "$provides" ] && (( ${#sonames[@]} )); then
        provides="x86_64: $(printf '%s\n' "${sonames[@]}" | sort -u | paste -sd' ')"
    fi
    [ -z "$provides" ] || put "$dir" PROVIDES "$provides"
    local provided=" ${provides#x86_64: } " r out=()
    for r in $(printf '%s\n' "${reqs[@]}" | sort -u); do
        [[ $provided == *" $r "* ]] || out+=("$r")
    done
    (( ${#out[@]} == 0 )) || put "$dir" REQUIRES "x86_64: ${out[*]}"
    printf '%s' "$counter" >"$dir/COUNTER"   # Portage writes COUNTER without newline
}

common_vdb() { # DIR CATEGORY PF SLOT
    local d=$1
    put "$d" CATEGORY "$2"
    put "$d" PF "$3"
    put "$d" SLOT "$4"
    put "$d" EAPI 8
    put "$d" repository gentoo
    put "$d" CBUILD x86_64-pc-linux-gnu
    put "$d" CHOST x86_64-pc-linux-gnu
    put "$d" CFLAGS '-O2 -pipe'
    put "$d" CXXFLAGS '-O2 -pipe'
    put "$d" LDFLAGS '-Wl,-O1 -Wl,--as-needed'
    put "$d" BUILD_TIME "$(date +%s)"
    put "$d" FEATURES 'assume-digests binpkg-docompress binpkg-dostrip binpkg-logs config-protect-if-modified distlocks ebuild-locks fixlafiles ipc merge-sync multilib-strict network-sandbox news parallel-fetch pid-sandbox preserve-libs protect-owned qa-unresolved-soname-deps sandbox sfperms strict unknown-features-warn unmerge-logs unmerge-orphans userfetch userpriv usersandbox usersync xattr'
    put "$d" KEYWORDS '~alpha amd64 arm arm64 hppa ~loong ~m68k ~mips ppc ppc64 ~riscv ~s390 sparc x86'
}

gentoo_shape() {
    local r=$1 d pkgdb=$1/var/db/pkg

    # sys-libs/libxcrypt: the package whose bad merge the repair undoes.
    d=$pkgdb/sys-libs/$GENTOO_LIBXCRYPT_PF; mkdir -p "$d"
    common_vdb "$d" sys-libs "$GENTOO_LIBXCRYPT_PF" 0/1
    put "$d" USE 'abi_x86_64 amd64 compat elibc_glibc kernel_linux system'
    put "$d" IUSE '+compat static-libs +system test headers-only'
    put "$d" IUSE_EFFECTIVE 'abi_x86_32 abi_x86_64 abi_x86_x32 alpha amd64 arm arm64 compat elibc_glibc elibc_musl headers-only hppa kernel_linux loong m68k mips ppc ppc64 riscv s390 sparc static-libs system test x86'
    put "$d" DESCRIPTION 'Extended crypt library for descrypt, md5crypt, bcrypt, and others'
    put "$d" HOMEPAGE 'https://github.com/besser82/libxcrypt'
    put "$d" LICENSE 'LGPL-2.1+ public-domain BSD BSD-2'
    put "$d" INHERITED 'toolchain-funcs crossdev multibuild multilib python-utils-r1 python-any-r1 flag-o-matic out-of-source-utils multilib-build multilib-minimal'
    put "$d" DEFINED_PHASES 'compile configure install preinst prepare pretend setup test'
    put "$d" DEPEND 'system? ( elibc_glibc? ( sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)] ) )'
    put "$d" RDEPEND 'system? ( elibc_glibc? ( sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)] ) )'
    put "$d" BDEPEND 'dev-lang/perl'
    write_vdb_files "$r" "$d" 1102 'x86_64: libcrypt.so.1 libcrypt.so.2' libcrypt1

    # virtual/libcrypt: what every consumer (pam, shadow, perl) depends on.
    d=$pkgdb/virtual/libcrypt-2-r1; mkdir -p "$d"
    common_vdb "$d" virtual libcrypt-2-r1 0/2
    put "$d" USE 'abi_x86_64 amd64 elibc_glibc kernel_linux'
    put "$d" IUSE 'abi_x86_32 abi_x86_64 abi_x86_x32 static-libs'
    put "$d" DESCRIPTION 'Virtual for libcrypt.so'
    put "$d" RDEPEND 'elibc_glibc? ( sys-libs/libxcrypt[system(-),static-libs(-)?,abi_x86_64(-)?] )'
    : >"$d/CONTENTS"; put "$d" SIZE 0
    printf '%s' 1103 >"$d/COUNTER"

    d=$pkgdb/sys-libs/$GENTOO_PAM_PF; mkdir -p "$d"
    common_vdb "$d" sys-libs "$GENTOO_PAM_PF" 0
    put "$d" USE 'abi_x86_64 amd64 elibc_glibc filecaps kernel_linux'
    put "$d" IUSE 'audit berkdb debug filecaps nis selinux abi_x86_32 abi_x86_64 abi_x86_x32'
    put "$d" DESCRIPTION 'Linux-PAM (Pluggable Authentication Modules)'
    put "$d" HOMEPAGE 'https://github.com/linux-pam/linux-pam'
    put "$d" LICENSE '|| ( BSD GPL-2 )'
    put "$d" DEFINED_PHASES 'compile configure install postinst prepare'
    put "$d" DEPEND 'virtual/libcrypt:=[abi_x86_64(-)] >=virtual/libintl-0-r1[abi_x86_64(-)]'
    put "$d" RDEPEND 'virtual/libcrypt:=[abi_x86_64(-)] >=virtual/libintl-0-r1[abi_x86_64(-)]'
    put "$d" PDEPEND '>=sys-auth/pambase-20200616'
    write_vdb_files "$r" "$d" 1145 '' libpam0g libpam-modules libpam-modules-bin

    d=$pkgdb/sys-libs/$GENTOO_GLIBC_PF; mkdir -p "$d"
    common_vdb "$d" sys-libs "$GENTOO_GLIBC_PF" 2.2
    put "$d" USE 'amd64 elibc_glibc kernel_linux multiarch multilib ssp static-libs'
    put "$d" IUSE 'audit caps cet compile-locales +crypt custom-cflags doc gd hash-sysv-compat headers-only +multiarch multilib multilib-bootstrap nscd profile selinux +ssp +static-libs suid systemtap test vanilla'
    put "$d" DESCRIPTION 'GNU libc C library'
    put "$d" HOMEPAGE 'https://www.gnu.org/software/libc/'
    put "$d" LICENSE 'LGPL-2.1+ BSD HPND ISC inner-net rc PCRE'
    put "$d" DEFINED_PHASES 'compile configure install postinst preinst prepare pretend setup test unpack'
    write_vdb_files "$r" "$d" 1012 '' libc6

    # The other Gentoo-side files the repair looks at.
    mkdir -p "$r/etc/conf.d" "$r/etc/init.d" "$r/etc/portage" "$r/var/lib/portage"
    cat >"$r/etc/conf.d/display-manager" <<'EOF'
# Settings for /etc/init.d/display-manager (gui-libs/display-manager-init).
# The display manager is started on a fixed VT; CHECKVT names it, and the
# init script refuses to start when a getty is configured on that VT.
CHECKVT=7

# Which display manager to start: xdm, greetd, gdm, sddm, lightdm, ...
# A DISPLAYMANAGER set in /etc/rc.conf takes precedence over this one.
DISPLAYMANAGER="xdm"
EOF
    cat >"$r/etc/init.d/display-manager" <<'EOF'
#!/sbin/openrc-run
# Fixture stand-in for gui-libs/display-manager-init's script: starts the
# display manager named in /etc/conf.d/display-manager.

description="Starts the graphical display manager"

depend() {
	need localmount
	after bootmisc consolefont modules netmount
	after quota keymaps
	use elogind dbus xfs
}

start() {
	local dm
	dm=$(printf '%s' "${DISPLAYMANAGER:-xdm}" | tr '[:upper:]' '[:lower:]')
	command=$(command -v "${dm}" 2>/dev/null) || command=/usr/bin/${dm}
	if [ ! -x "${command}" ]; then
		eerror "DISPLAYMANAGER=${DISPLAYMANAGER}: ${command} not found"
		return 1
	fi
	ebegin "Starting ${dm} on vt${CHECKVT:-7}"
	exec "${command}" -nodaemon
}
EOF
    chmod 0755 "$r/etc/init.d/display-manager"
    cat >"$r/etc/portage/make.conf" <<'EOF'
# Minimal Gentoo make.conf for the argo recovery fixture.
COMMON_FLAGS="-O2 -pipe"
CFLAGS="${COMMON_FLAGS}"
CXXFLAGS="${COMMON_FLAGS}"
FCFLAGS="${COMMON_FLAGS}"
FFLAGS="${COMMON_FLAGS}"
CHOST="x86_64-pc-linux-gnu"
USE="pam"
LC_MESSAGES=C.utf8
EOF
    printf '%s\n' gui-libs/display-manager-init sys-auth/pamtester x11-apps/xdm >"$r/var/lib/portage/world"
    printf 'Gentoo Base System release 2.14\n' >"$r/etc/gentoo-release"
    display_manager_shape "$r"
}

# The display manager DISPLAYMANAGER="xdm" names: a stand-in /usr/bin/xdm,
# plus vdb entries for x11-apps/xdm and gui-libs/display-manager-init whose
# CONTENTS list the real files. The service is in debian-base's default
# runlevel; build_broken takes it out.
dm_vdb() { # root category pf counter description files...
    local r=$1 cat=$2 pf=$3 c=$4 desc=$5 dir p parent size=0; shift 5
    dir=$r/var/db/pkg/$cat/$pf
    mkdir -p "$dir"
    common_vdb "$dir" "$cat" "$pf" 0
    put "$dir" DESCRIPTION "$desc"
    put "$dir" USE 'amd64 elibc_glibc kernel_linux'
    : >"$dir/CONTENTS"
    for p in "$@"; do
        parent=${p%/*}
        grep -qxF "dir $parent" "$dir/CONTENTS" || printf 'dir %s\n' "$parent" >>"$dir/CONTENTS"
        printf 'obj %s %s %s\n' "$p" "$(md5sum <"$r$p" | cut -d' ' -f1)" "$(stat -c %Y -- "$r$p")" >>"$dir/CONTENTS"
        size=$(( size + $(stat -c %s -- "$r$p") ))
    done
    put "$dir" SIZE "$size"
    printf '%s' "$c" >"$dir/COUNTER"
}
display_manager_shape() {
    local r=$1
    cat >"$r/usr/bin/xdm" <<'XDM_EOF'
#!/bin/sh
# argo fixture stand-in for x11-apps/xdm (the X Display Manager). There is no
# X server in this chroot: it only records that it was started and, like
# "xdm -nodaemon", stays in the foreground until it is signalled.
case "$1" in
    -version|--version) echo "xdm 1.1.14 (argo fixture stand-in)"; exit 0 ;;
esac
mkdir -p /run 2>/dev/null
echo "$$" >/run/xdm.pid 2>/dev/null
echo "$(date -u +%FT%TZ) xdm started: $*" >>/var/log/xdm.log 2>/dev/null
trap 'rm -f /run/xdm.pid; exit 0' TERM INT HUP
if [ "$1" = -nodaemon ]; then
    while :; do sleep 60 & wait $!; done
fi
exit 0
XDM_EOF
    chmod 0755 "$r/usr/bin/xdm"
    # xdm's own PAM service, as its package installs one (modelled on Debian's xdm; Gentoo's includes
    # system-login instead): the login proof drives it as the display manager's service (dm:xdm).
    cat >"$r/etc/pam.d/xdm" <<'PAM_EOF'
auth       requisite  pam_nologin.so
auth       required   pam_env.so readenv=1
@include common-auth
@include common-account
session    required   pam_limits.so
@include common-session
@include common-password
PAM_EOF
    chmod 0644 "$r/etc/pam.d/xdm"
    dm_vdb "$r" x11-apps xdm-1.1.14 1150 'X.Org xdm application' /usr/bin/xdm /etc/pam.d/xdm
    dm_vdb "$r" gui-libs display-manager-init-1.1.2-r3 1151 \
        'RC init files for starting display and login managers' \
        /etc/init.d/display-manager /etc/conf.d/display-manager
    mkdir -p "$r/etc/runlevels/default"
    ln -sfn /etc/init.d/display-manager "$r/etc/runlevels/default/display-manager"
}

# ------------------------------------------------------------ libxcrypt source
# Private apt config holding only a deb-src entry: the host's sources.list is
# never touched. Sets SRC_DSC; the download is skipped when already cached.
upstream_version() { local v=${1#*:}; printf '%s' "${v%-*}"; }
fetch_libxcrypt_source() { # debian source version
    local ver=$1 apt_dir=$CACHE/apt-src src_dir=$CACHE/src
    SRC_DSC=$src_dir/libxcrypt_${ver#*:}.dsc
    if [ -f "$SRC_DSC" ] && [ -f "$src_dir/libxcrypt_$(upstream_version "$ver").orig.tar.xz" ]; then
        return 0
    fi
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$src_dir"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$SUITE" >"$apt_dir/sources.list.d/debian-src.sources"
    local -a aptopts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
    run_logged libcrypt-source apt-get "${aptopts[@]}" update -q || die "apt-get update (deb-src) failed"
    (cd "$src_dir" && run_logged libcrypt-source apt-get "${aptopts[@]}" source --download-only -q "libxcrypt=$ver") \
        || die "apt-get source libxcrypt=$ver failed"
    [ -f "$SRC_DSC" ] || die "missing $SRC_DSC"
}
key_distfile() { printf 'distfile\n%s\n%s\n' "$SCRIPT_SHA" "$(sha256sum <"$1" | cut -d' ' -f1)" | sha256; }

# A release-style libxcrypt-<ver>.tar.xz from upstream's pristine source (the
# Debian orig tarball is a git snapshot without configure): autoreconf -fi
# (it needs ltdl.m4 from libltdl-dev), configure, make dist-xz. The result
# builds with plain ./configure && make && make install. Sets DISTFILE.
make_distfile() { # debian source version
    local ver=$1 up orig tmp out
    up=$(upstream_version "$ver")
    orig=$CACHE/src/libxcrypt_$up.orig.tar.xz
    [ -f "$orig" ] || die "missing $orig"
    DISTFILE=$DISTFILES/libxcrypt-$up.tar.xz
    if stamp_ok distfile "$(key_distfile "$orig")" "$DISTFILE"; then
        log "distfile $DISTFILE is up to date"
        return 0
    fi
    stamp_clear distfile
    ensure_host_pkgs build-essential autoconf automake libtool libltdl-dev pkg-config perl xz-utils
    make_tmp distfile; tmp=$TMP
    tar -xf "$orig" -C "$tmp" || die "cannot unpack $orig"
    [ -d "$tmp/libxcrypt-$up" ] || die "$orig does not unpack to libxcrypt-$up/"
    (cd "$tmp/libxcrypt-$up" && run_logged distfile autoreconf -fi) || die "autoreconf failed (see $LOGS/distfile.log)"
    mkdir -p "$tmp/build"
    (cd "$tmp/build" && run_logged distfile "../libxcrypt-$up/configure" --disable-werror) || die "configure for make dist failed"
    (cd "$tmp/build" && run_logged distfile make dist-xz) || die "make dist-xz failed (see $LOGS/distfile.log)"
    out=$tmp/build/libxcrypt-$up.tar.xz
    [ -f "$out" ] || die "make dist-xz produced no $out"
    tar -tJf "$out" "libxcrypt-$up/configure" "libxcrypt-$up/Makefile.in" >/dev/null \
        || die "$out lacks configure or Makefile.in"
    mkdir -p "$DISTFILES"
    chmod 0644 "$out"
    mv -f -- "$out" "$DISTFILE"
    stamp_write distfile "$(key_distfile "$orig")"
}

# ------------------------------------------------------------ components
build_base() {
    step debian-base "debootstrap $SUITE minbase into $BASE"
    ensure_host_pkgs debootstrap debian-archive-keyring util-linux binutils
    stamp_clear debian-base
    local tmp pkgs t0 shadow
    pkgs=perl,libpam-modules,libpam-modules-bin,libpam-runtime,pamtester,login,passwd,openssl,openrc,procps
    # libpython3.11-stdlib: ctypes, which every Gentoo python has (dev-lang/python always builds _ctypes) and
    # which argo's PAM driver loads the target's libpam.so.0 with.
    (( WITH_PYTHON )) && pkgs+=,python3-minimal,libpython3.11-stdlib
    # What a Gentoo system always has for building (the manual-build pivot).
    (( WITH_TOOLCHAIN )) && pkgs+=,gcc,make,libc6-dev,xz-utils
    make_tmp debian-base; tmp=$TMP
    mkdir -p "$CACHE/debs"
    t0=$EPOCHREALTIME
    # debootstrap mounts /proc and /sys in the target; a private mount
    # namespace makes sure they can never outlive it.
    run_logged debian-base unshare --mount --propagation private -- \
        debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
        "$SUITE" "$tmp/root" "$MIRROR" || die "debootstrap failed (see $LOGS/debian-base.log)"
    DEBOOTSTRAP_SECONDS=$(elapsed "$t0")
    log "debootstrap took ${DEBOOTSTRAP_SECONDS}s"
    [ -z "$(mounts_below "$tmp")" ] || die "debootstrap left mounts below $tmp"
    local r=$tmp/root
    in_root "$r" dpkg-query -W openrc >/dev/null || die "openrc not installed"
    if (( WITH_TOOLCHAIN )); then
        { in_root "$r" gcc --version && in_root "$r" make --version && in_root "$r" xz --version; } >/dev/null \
            || die "the toolchain (gcc, make, xz) does not run in the root"
    fi
    # Downloaded .debs and the Packages lists are ~95 MB the tests don't need.
    in_root "$r" apt-get clean
    rm -rf -- "$r"/var/lib/apt/lists/*_Packages "$r"/var/lib/apt/lists/*_InRelease
    printf 'argo-fixture\n' >"$r/etc/hostname"
    step_done

    step users "create alice, set SHA-512 passwords"
    in_root "$r" useradd --create-home --uid 1000 --user-group --shell /bin/bash \
        --comment 'Alice Fixture' alice || die "useradd alice failed"
    printf 'root:%s\nalice:%s\n' "$ROOT_PASSWORD" "$ALICE_PASSWORD" \
        | in_root "$r" chpasswd -c SHA512 || die "chpasswd failed"
    for u in root alice; do
        shadow=$(awk -F: -v u="$u" '$1 == u { print $2 }' "$r/etc/shadow")
        [[ $shadow == '$6$'* ]] || die "password of $u is not a \$6\$ hash: ${shadow:0:4}..."
    done
    grep -q '^@include common-auth' "$r/etc/pam.d/login" \
        && grep -q 'pam_unix\.so' "$r/etc/pam.d/common-auth" \
        || die "/etc/pam.d/login does not authenticate through pam_unix"
    step_done

    step gentoo-shape "write /var/db/pkg, conf.d, init.d, make.conf, world"
    gentoo_shape "$r"
    local got
    got=$(in_root "$r" perl -e 'print crypt("Hello world!", q($6$saltstring))')
    [ "$got" = "$SHA512_EXPECTED" ] || die "base root: SHA-512 crypt gives '$got'"
    step_done

    step distfile "release-style libxcrypt distfile into /var/cache/distfiles"
    local srcver
    srcver=$(dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${source:Version}' libcrypt1) \
        || die "cannot read libcrypt1's version in the new root"
    fetch_libxcrypt_source "$srcver"
    make_distfile "$srcver"
    install -D -m 0644 "$DISTFILE" "$r/var/cache/distfiles/${DISTFILE##*/}"
    if (( WITH_TOOLCHAIN )); then
        in_root "$r" tar -tJf "/var/cache/distfiles/${DISTFILE##*/}" >/dev/null \
            || die "the distfile cannot be listed inside the root"
    fi
    step_done

    step debian-base-install "install into place"
    local ct; ct=$(mktemp -p "$CACHE" .credentials.XXXXXX)
    chmod 0600 "$ct"
    printf '# argo fixture test credentials (test-only, plain text). user:password\nroot:%s\nalice:%s\n' \
        "$ROOT_PASSWORD" "$ALICE_PASSWORD" >"$ct"
    install_dir "$r" "$BASE"
    mv -f -- "$ct" "$CREDS"
    printf '%s\n' "$DEBOOTSTRAP_SECONDS" >"$STAMPS/debootstrap-seconds"
    stamp_write debian-base "$(key_base)"
    step_done
}

build_libs() {
    step libcrypt-source "fetch Debian's libxcrypt source"
    ensure_host_pkgs dpkg-dev xz-utils build-essential autoconf automake libtool pkg-config perl binutils
    stamp_clear libcrypt
    local ver dsc
    ver=$(dpkg-query --admindir="$BASE/var/lib/dpkg" -W -f='${source:Version}' libcrypt1) \
        || die "cannot read libcrypt1's version in $BASE"
    fetch_libxcrypt_source "$ver"
    dsc=$SRC_DSC
    step_done

    step libcrypt-build "build libxcrypt $ver twice (all hashes / without sha512crypt)"
    local tmp s hashes
    make_tmp libcrypt; tmp=$TMP
    run_logged libcrypt-build dpkg-source --no-check -x "$dsc" "$tmp/src" || die "dpkg-source -x failed"
    s=$tmp/src
    # Every method lib/hashes.conf knows, minus sha512crypt.
    hashes=$(awk '!/^#/ && NF && $1 != "sha512crypt" { print $1 }' "$s/lib/hashes.conf" | paste -sd,)
    [ -n "$hashes" ] && [[ ,$hashes, != *,sha512crypt,* ]] || die "could not read hash names from lib/hashes.conf"
    (cd "$s" && run_logged libcrypt-build autoreconf -fi) || die "autoreconf failed"
    # Debian's own configure flags (debian/rules, CONFFLAGS_deb1).
    local -a conf=(--disable-werror --prefix=/usr --disable-xcrypt-compat-files
        --enable-obsolete-api=glibc "--libdir=/usr/lib/$MULTIARCH")
    local -a bflags
    bflags=(CFLAGS="$(cd "$s" && DEB_BUILD_MAINT_OPTIONS=hardening=+bindnow dpkg-buildflags --get CFLAGS)"
            CPPFLAGS="$(cd "$s" && DEB_BUILD_MAINT_OPTIONS=hardening=+bindnow dpkg-buildflags --get CPPFLAGS)"
            LDFLAGS="$(cd "$s" && DEB_BUILD_MAINT_OPTIONS=hardening=+bindnow dpkg-buildflags --get LDFLAGS)")
    local variant enable out lib t0
    for variant in broken good; do
        if [ "$variant" = broken ]; then enable=$hashes; else enable=all; fi
        t0=$EPOCHREALTIME
        mkdir -p "$tmp/build-$variant"
        (cd "$tmp/build-$variant" && run_logged libcrypt-build env "${bflags[@]}" \
            "$s/configure" "${conf[@]}" "--enable-hashes=$enable") || die "configure ($variant) failed"
        (cd "$tmp/build-$variant" && run_logged libcrypt-build make -j"$(nproc)") || die "make ($variant) failed"
        out=$tmp/libcrypt-$variant; mkdir -p "$out/image/lib/$MULTIARCH"
        lib=$tmp/build-$variant/.libs/libcrypt.so.1.1.0
        [ -f "$lib" ] || die "build ($variant) produced no libcrypt.so.1.1.0"
        strip --strip-unneeded -o "$out/libcrypt.so.1.1.0" "$lib"
        chmod 0644 "$out/libcrypt.so.1.1.0"
        ln -s libcrypt.so.1.1.0 "$out/libcrypt.so.1"
        cp -p "$out/libcrypt.so.1.1.0" "$out/image/lib/$MULTIARCH/"
        ln -s libcrypt.so.1.1.0 "$out/image/lib/$MULTIARCH/libcrypt.so.1"
        {
            kv SOURCE_PACKAGE libxcrypt
            kv SOURCE_VERSION "$ver"
            kv VARIANT "$variant"
            kv ENABLE_HASHES "$enable"
            kv CONFIGURE_ARGS "${conf[*]} --enable-hashes=$enable"
            kv MD5 "$(md5sum <"$out/libcrypt.so.1.1.0" | cut -d' ' -f1)"
            kv SHA256 "$(sha256sum <"$out/libcrypt.so.1.1.0" | cut -d' ' -f1)"
            kv BUILD_SECONDS "$(elapsed "$t0")"
        } >"$out/BUILD-INFO"
        log "built $variant libcrypt in $(elapsed "$t0")s (--enable-hashes=$enable)"
    done
    # Check both with the host's perl before trusting them.
    local got
    got=$(LD_LIBRARY_PATH=$tmp/libcrypt-good perl -e 'print crypt("Hello world!", q($6$saltstring))')
    [ "$got" = "$SHA512_EXPECTED" ] || die "good libcrypt does not do SHA-512: '$got'"
    got=$(LD_LIBRARY_PATH=$tmp/libcrypt-broken perl -e 'print crypt("Hello world!", q($6$saltstring))')
    [ "$got" = '*0' ] || die "broken libcrypt still does SHA-512: '$got'"
    install_dir "$tmp/libcrypt-broken" "$LIB_BROKEN"
    install_dir "$tmp/libcrypt-good" "$LIB_GOOD"
    stamp_write libcrypt "$(key_libs)"
    step_done
}

build_broken() {
    step debian-broken "copy base, install libcrypt without sha512crypt"
    stamp_clear debian-broken
    local tmp r real vdb libpath md5 mtime size hashes
    local -a vdbs
    make_tmp debian-broken; tmp=$TMP
    cp -a --reflink=auto -- "$BASE" "$tmp/root"
    r=$tmp/root
    libpath=/lib/$MULTIARCH/libcrypt.so.1.1.0
    real=$(in_root "$r" readlink -f -- "/lib/$MULTIARCH/libcrypt.so.1") || die "no libcrypt.so.1 in $r"
    [ -f "$r$real" ] || die "libcrypt.so.1 resolves to $real, which is not a file"
    # Replace it the way a merge does: write next to it, then rename over it.
    install -m 0644 -- "$LIB_BROKEN/libcrypt.so.1.1.0" "$r$real.argo-new"
    mv -f -- "$r$real.argo-new" "$r$real"
    md5=$(md5sum <"$r$real" | cut -d' ' -f1)
    mtime=$(stat -c %Y -- "$r$real")
    vdbs=( "$r"/var/db/pkg/sys-libs/libxcrypt-* )
    (( ${#vdbs[@]} == 1 )) || die "expected one sys-libs/libxcrypt-* entry, found ${#vdbs[@]}"
    vdb=${vdbs[0]}
    grep -q "^obj $libpath " "$vdb/CONTENTS" || die "$vdb/CONTENTS has no obj $libpath"
    awk -v p="$libpath" -v m="$md5" -v t="$mtime" \
        '$1 == "obj" && $2 == p { $3 = m; $4 = t } { print }' "$vdb/CONTENTS" >"$vdb/CONTENTS.new"
    mv -f -- "$vdb/CONTENTS.new" "$vdb/CONTENTS"
    size=0
    while read -r _ p _ _; do size=$(( size + $(stat -c %s -- "$r$p") )); done < <(grep '^obj ' "$vdb/CONTENTS")
    put "$vdb" SIZE "$size"
    put "$vdb" BUILD_TIME "$mtime"
    printf '%s' 1877 >"$vdb/COUNTER"           # a later merge than everything else
    hashes=$(sed -n 's/^ENABLE_HASHES=//p' "$LIB_BROKEN/BUILD-INFO")
    put "$vdb" EXTRA_ECONF "--enable-hashes=$hashes"
    # Where such an EXTRA_ECONF comes from on a real system.
    mkdir -p "$r/etc/portage/env"
    printf 'EXTRA_ECONF="--enable-hashes=%s"\n' "$hashes" >"$r/etc/portage/env/libxcrypt-no-sha512.conf"
    printf 'sys-libs/libxcrypt libxcrypt-no-sha512.conf\n' >"$r/etc/portage/package.env"
    # As if the crash left the display manager disabled.
    rm -f -- "$r/etc/runlevels/default/display-manager"
    local got
    got=$(in_root "$r" perl -e 'print crypt("Hello world!", q($6$saltstring))')
    [ "$got" = '*0' ] || die "broken root still does SHA-512: '$got'"
    install_dir "$r" "$BROKEN"
    stamp_write debian-broken "$(key_broken)"
    step_done
}

write_summary() {
    local adm=$BASE/var/lib/dpkg v
    {
        printf '# Written by %s; source it or parse KEY=VALUE lines.\n' "test/chroot-fixtures/$PROG.sh"
        kv ARGO_FIXTURE_CACHE "$CACHE"
        kv ARGO_FIXTURE_BASE "$BASE"
        kv ARGO_FIXTURE_BROKEN "$BROKEN"
        kv ARGO_FIXTURE_GOOD_LIB "$LIB_GOOD/libcrypt.so.1.1.0"
        kv ARGO_FIXTURE_BROKEN_LIB "$LIB_BROKEN/libcrypt.so.1.1.0"
        kv ARGO_FIXTURE_CREDENTIALS "$CREDS"
        kv ARGO_FIXTURE_BUILDER_SHA256 "$SCRIPT_SHA"
        kv ARGO_FIXTURE_DEBIAN_SUITE "$SUITE"
        kv ARGO_FIXTURE_DEBIAN_RELEASE "$(cat "$BASE/etc/debian_version")"
        kv ARGO_FIXTURE_LIBXCRYPT_SOURCE_VERSION "$(sed -n 's/^SOURCE_VERSION=//p' "$LIB_GOOD/BUILD-INFO")"
        kv ARGO_FIXTURE_BROKEN_ENABLE_HASHES "$(sed -n 's/^ENABLE_HASHES=//p' "$LIB_BROKEN/BUILD-INFO")"
        kv ARGO_FIXTURE_DEBOOTSTRAP_SECONDS "$(cat "$STAMPS/debootstrap-seconds" 2>/dev/null || echo unknown)"
        local dfs=("$BASE"/var/cache/distfiles/libxcrypt-*.tar.xz)
        kv ARGO_FIXTURE_DISTFILE "$( (( ${#dfs[@]} )) && printf '/var/cache/distfiles/%s' "${dfs[0]##*/}")"
        kv ARGO_FIXTURE_TOOLCHAIN "$WITH_TOOLCHAIN"
        kv ARGO_FIXTURE_FAKE_EMERGE_INSTALLER "$SELF_DIR/install-fake-emerge.sh"
        kv ARGO_FIXTURE_BINPKG "$CACHE/fake-emerge/good/sys-libs/libxcrypt/libxcrypt-4.4.36-1.gpkg.tar"
        for v in libcrypt1 libc6 libpam0g libpam-modules pamtester login passwd openrc perl openssl procps python3-minimal libpython3.11-stdlib \
                 gcc gcc-12 make libc6-dev xz-utils; do
            kv "ARGO_FIXTURE_DEB_$(tr 'a-z0-9.+-' 'A-Z0-9___' <<<"$v")" \
                "$(dpkg-query --admindir="$adm" -W -f='${Version}' "$v" 2>/dev/null || echo absent)"
        done
    } >"$ENVFILE.new"
    mv -f -- "$ENVFILE.new" "$ENVFILE"
}

print_summary() {
    local d
    log "cache: $CACHE"
    for d in "$BASE" "$BROKEN" "$LIB_GOOD" "$LIB_BROKEN" "$DISTFILES" "$CACHE/fake-emerge"; do
        [ -e "$d" ] || continue
        log "  $(du -sh -- "$d" | cut -f1)  $d"
    done
    log "  libxcrypt source $(sed -n 's/^SOURCE_VERSION=//p' "$LIB_GOOD/BUILD-INFO"); broken lib built with --enable-hashes=$(sed -n 's/^ENABLE_HASHES=//p' "$LIB_BROKEN/BUILD-INFO")"
    (( ${#TIMINGS[@]} == 0 )) || log "  step timings: ${TIMINGS[*]}"
    log "total: $(elapsed "$RUN_T0")s"
    printf 'ARGO_FIXTURE base=%s broken=%s good_lib=%s broken_lib=%s\n' \
        "$BASE" "$BROKEN" "$LIB_GOOD/libcrypt.so.1.1.0" "$LIB_BROKEN/libcrypt.so.1.1.0"
}

# The GPKG and stash of install-fake-emerge.sh: keyed by that script and by
# the libraries and vdb it packs (its own stamp, fake-emerge/.stamp), so
# this is a no-op when nothing changed.
prepare_fake_emerge() {
    local inst=$SELF_DIR/install-fake-emerge.sh
    [ -x "$inst" ] || { log "no $inst; skipping the fake emerge cache"; return 0; }
    ARGO_FIXTURE_LOCK_HELD=1 ARGO_FIXTURE_CACHE=$CACHE run_logged fake-emerge "$inst" --prepare-cache \
        || die "install-fake-emerge.sh --prepare-cache failed (see $LOGS/fake-emerge.log)"
}

# ------------------------------------------------------------------ main
step preflight "cache $CACHE"
(( EUID == 0 )) || die "must run as root (debootstrap, chroot)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 hosts are supported"
command -v unshare >/dev/null && command -v flock >/dev/null || die "util-linux (unshare, flock) is required"
mkdir -p "$CACHE" "$STAMPS" "$LOGS"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    log "another build holds $CACHE/.lock; waiting (up to 30 min)"
    flock -w 1800 9 || die "timed out waiting for $CACHE/.lock"
fi
# Leftovers of an interrupted run (we hold the lock, so nobody is using them).
for d in "$CACHE"/.*.tmp.* "$CACHE"/.*.old.*; do
    log "removing leftover $d"
    safe_rm "$d"
done

if stamp_ok debian-base "$(key_base)" "$BASE" "$CREDS" \
   && stamp_ok libcrypt "$(key_libs)" "$LIB_GOOD/libcrypt.so.1.1.0" "$LIB_BROKEN/libcrypt.so.1.1.0" \
   && stamp_ok debian-broken "$(key_broken)" "$BROKEN"; then
    log "all fixtures up to date (builder sha256 ${SCRIPT_SHA:0:12}); nothing to do"
    prepare_fake_emerge
    [ -f "$ENVFILE" ] || write_summary
    print_summary
    exit 0
fi
TIMINGS+=("preflight=$(elapsed "$STEP_T0")s")
rm -f -- "$LOGS"/*.log   # logs describe the latest build only

stamp_ok debian-base "$(key_base)" "$BASE" "$CREDS" || build_base
stamp_ok libcrypt "$(key_libs)" "$LIB_GOOD/libcrypt.so.1.1.0" "$LIB_BROKEN/libcrypt.so.1.1.0" || build_libs
stamp_ok debian-broken "$(key_broken)" "$BROKEN" || build_broken

step finish "summary"
prepare_fake_emerge
[ -z "$(mounts_below "$CACHE")" ] || die "something is still mounted below $CACHE"
write_summary
print_summary
