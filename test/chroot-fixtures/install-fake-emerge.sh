#!/usr/bin/env bash
# install-fake-emerge.sh - put the fake Portage emerge into a COPY of a
# fixture root made by build-debian-target.sh.
#
# Usage: install-fake-emerge.sh <root> [KEY=VALUE ...]
#        install-fake-emerge.sh --prepare-cache
#        install-fake-emerge.sh --help
#
# <root> must be a per-test copy (cp -a of debian-broken or debian-base); the
# cached roots themselves are refused. The KEY=VALUE pairs become
# /etc/argo-fake-emerge.conf in the root (see README.md):
#   BINARY=ok|missing|fail  SOURCE=ok|fail|hang  SOURCE_SECONDS=N
#   FAIL_PHASE=configure|compile|install  BINHOST_ONLY=0|1  HONOR_PACKAGE_ENV=0|1
#   RESOLVE_SECONDS=N  LOG_TERMINATING=0|1  STRICT_DEV=0|1  PORTAGE_VERSION=..
#   PYTHON_VERSION=..
#   PROFILE=..  TRACE_LOG=/path
#   WORLD_SECONDS_PER_PACKAGE=N  WORLD_LIBXCRYPT=good|broken  WORLD_FAIL_AT=N
#   WORLD_BINHOST_HAS=all|cat/pkg,...   WORLD_PULLS=cat/pkg-ver   (world updates driven by /etc/argo-fake-emerge.plan)
# The root gets:
#   /usr/bin/emerge                       the fake (fake-emerge/emerge)
#   /usr/lib/argo-fake-emerge/            usage.txt, image/ (what "make install"
#                                         installs), libcrypt.so.1.1.0 (good),
#                                         libcrypt-nosha512.so.1.1.0
#   ${PKGDIR}/sys-libs/libxcrypt/libxcrypt-4.4.36-1.gpkg.tar and ${PKGDIR}/Packages
#                                         BINARY=ok: a valid GPKG; fail: one whose
#                                         image.tar.gz fails its Manifest hashes;
#                                         missing: none (and an empty index)
#   /var/cache/edb/counter, /var/log/emerge.log   when missing
#   PKGDIR/DISTDIR in /etc/portage/make.conf      when missing
#
# The GPKG is built once on the host with tar, gzip, b2sum and sha512sum and
# cached in ${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}/fake-emerge/,
# keyed by this script, the good/broken libraries and the base root's
# libxcrypt vdb entry. --prepare-cache only (re)builds that cache (the
# builder calls it). A copy-in takes a few tens of milliseconds.
set -Eeuo pipefail
shopt -s nullglob
umask 022
export LC_ALL=C

PROG=install-fake-emerge
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
HERE=$(dirname -- "$SELF")
CACHE=$(readlink -m -- "${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}")
BASE=$CACHE/debian-base
BROKEN=$CACHE/debian-broken
LIB_GOOD=$CACHE/libcrypt-good/libcrypt.so.1.1.0
LIB_BROKEN=$CACHE/libcrypt-broken/libcrypt.so.1.1.0
FE_CACHE=$CACHE/fake-emerge
FE_SRC=$HERE/fake-emerge
PF=libxcrypt-4.4.36 BUILD_ID=1 CPV=sys-libs/libxcrypt-4.4.36
BINPKG_REL=sys-libs/libxcrypt/$PF-$BUILD_ID.gpkg.tar

die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "$SELF"; }

# ------------------------------------------------------------- arguments
PREPARE_ONLY=0
ROOT=
declare -a KV=()
while (( $# )); do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --prepare-cache) PREPARE_ONLY=1 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *=*) KV+=("$1") ;;
        *) [ -z "$ROOT" ] || die "only one root may be given"; ROOT=$1 ;;
    esac
    shift
done
(( PREPARE_ONLY )) || [ -n "$ROOT" ] || { usage >&2; exit 2; }
(( EUID == 0 )) || die "must run as root"

declare -A CONF=()
declare -a CONF_ORDER=()
for kv in "${KV[@]}"; do
    k=${kv%%=*} v=${kv#*=}
    case $k in
        BINARY) [[ $v =~ ^(ok|missing|fail)$ ]] || die "BINARY must be ok, missing or fail" ;;
        SOURCE) [[ $v =~ ^(ok|fail|hang)$ ]] || die "SOURCE must be ok, fail or hang" ;;
        FAIL_PHASE) [[ $v =~ ^(configure|compile|install)$ ]] || die "FAIL_PHASE must be configure, compile or install" ;;
        SOURCE_SECONDS|RESOLVE_SECONDS) [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$k must be a number of seconds" ;;
        BINHOST_ONLY|HONOR_PACKAGE_ENV|LOG_TERMINATING|STRICT_DEV) [[ $v =~ ^[01]$ ]] || die "$k must be 0 or 1" ;;
        PORTAGE_VERSION|PYTHON_VERSION) [[ $v =~ ^[0-9][0-9.a-z_-]*$ ]] || die "bad $k" ;;
        PROFILE|TRACE_LOG) [[ $v =~ ^[A-Za-z0-9_./+-]*$ ]] || die "bad $k" ;;
        WORLD_SECONDS_PER_PACKAGE) [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$k must be a number of seconds" ;;
        WORLD_LIBXCRYPT) [[ $v =~ ^(good|broken)$ ]] || die "WORLD_LIBXCRYPT must be good or broken" ;;
        WORLD_FAIL_AT) [[ $v =~ ^[0-9]+$ ]] || die "WORLD_FAIL_AT must be a package number (0 = none)" ;;
        WORLD_BINHOST_HAS) [[ $v =~ ^(all|[A-Za-z0-9+_.,/-]*)$ ]] || die "WORLD_BINHOST_HAS must be all or cat/pkg[,cat/pkg...]" ;;
        WORLD_PULLS) [[ $v =~ ^([A-Za-z0-9+_.-]+/[A-Za-z0-9+_.-]+)?$ ]] || die "WORLD_PULLS must be cat/pkg-ver" ;;
        *) die "unknown key $k (see --help)" ;;
    esac
    [ -n "${CONF[$k]+x}" ] || CONF_ORDER+=("$k")
    CONF[$k]=$v
done
BINARY=${CONF[BINARY]:-ok}

# ------------------------------------------------------------- the cache
TMP=
cleanup() { [ -z "$TMP" ] || rm -rf -- "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sha() { sha256sum "$@" | cut -d' ' -f1; }
cache_key() {
    local contents=$BASE/var/db/pkg/sys-libs/$PF/CONTENTS
    printf '%s\n' "fake-emerge-cache-v1" "$(sha "$SELF")" "$(sha "$LIB_GOOD")" "$(sha "$LIB_BROKEN")" \
        "$(sha "$contents")" | sha
}
cache_ok() { [ -f "$FE_CACHE/.stamp" ] && grep -qx "key=$1" "$FE_CACHE/.stamp"; }

manifest_line() { # dir name
    local f=$1/$2 b s
    b=$(b2sum <"$f"); s=$(sha512sum <"$f")
    printf 'DATA %s %s BLAKE2B %s SHA512 %s\n' "$2" "$(stat -c %s "$f")" "${b%% *}" "${s%% *}"
}
# Packages index (guide section 1.1): sorted keys, DESC/MTIME/REPO translated.
write_packages() { # out gpkg-or-empty vdb build_time
    local out=$1 pkg=$2 vdb=$3 t=$4 n=0
    [ -n "$pkg" ] && n=1
    {
        printf 'ACCEPT_KEYWORDS: amd64\nACCEPT_LICENSE: @FREE\nARCH: amd64\nCBUILD: x86_64-pc-linux-gnu\n'
        printf 'CHOST: x86_64-pc-linux-gnu\nELIBC: glibc\nKERNEL: linux\nPACKAGES: %s\n' "$n"
        printf 'PROFILE: default/linux/amd64/23.0\nTIMESTAMP: %s\n' "$t"
        printf 'USE: abi_x86_64 amd64 elibc_glibc kernel_linux pam\nVERSION: 0\n\n'
        if [ -n "$pkg" ]; then
            printf 'BDEPEND: %s\n' "$(cat "$vdb/BDEPEND")"
            printf 'BUILD_ID: %s\nBUILD_TIME: %s\nCPV: %s\n' "$BUILD_ID" "$t" "$CPV"
            printf 'DEFINED_PHASES: %s\n' "$(cat "$vdb/DEFINED_PHASES")"
            printf 'DEPEND: sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]\n'
            printf 'DESC: %s\nEAPI: %s\n' "$(cat "$vdb/DESCRIPTION")" "$(cat "$vdb/EAPI")"
            printf 'IUSE: %s\nKEYWORDS: %s\n' "$(cat "$vdb/IUSE")" "$(cat "$vdb/KEYWORDS")"
            printf 'LICENSE: %s\nMD5: %s\n' "$(cat "$vdb/LICENSE")" "$(md5sum <"$pkg" | cut -d' ' -f1)"
            printf 'PATH: %s\nPROVIDES: %s\n' "$BINPKG_REL" "$(cat "$vdb/PROVIDES")"
            printf 'RDEPEND: sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]\n'
            [ -f "$vdb/REQUIRES" ] && printf 'REQUIRES: %s\n' "$(cat "$vdb/REQUIRES")"
            printf 'SHA1: %s\nSIZE: %s\n' "$(sha1sum <"$pkg" | cut -d' ' -f1)" "$(stat -c %s "$pkg")"
            printf 'SLOT: %s\nUSE: %s\n' "$(cat "$vdb/SLOT")" "$(cat "$vdb/USE")"
            printf 'MTIME: %s\nREPO: gentoo\n\n' "$(stat -c %Y "$pkg")"
        fi
    } >"$out"
}
build_cache() { # key
    local key=$1 t vdb=$BASE/var/db/pkg/sys-libs/$PF st line typ rest path tgt
    TMP=$(mktemp -d -p "$CACHE" .fake-emerge.tmp.XXXXXX)
    t=$(stat -c %Y "$LIB_GOOD")     # the "build time" of the binary package
    st=$TMP/stage
    mkdir -p "$st/image" "$st/metadata"

    # image/: every file of the installed libxcrypt entry, with the good library.
    while IFS= read -r line; do
        typ=${line%% *} rest=${line#* }
        case $typ in
            dir) mkdir -p "$st/image$rest" ;;
            obj) path=${rest% * *}
                 mkdir -p "$st/image${path%/*}"
                 if [ "${path##*/}" = libcrypt.so.1.1.0 ]; then cp "$LIB_GOOD" "$st/image$path"
                 else cp "$BASE$path" "$st/image$path"; fi
                 chmod 0644 "$st/image$path" ;;
            sym) path=${rest%% -> *} tgt=${rest#* -> }; tgt=${tgt% *}
                 mkdir -p "$st/image${path%/*}"; ln -s "$tgt" "$st/image$path" ;;
        esac
    done <"$vdb/CONTENTS"
    [ -f "$st/image/lib/x86_64-linux-gnu/libcrypt.so.1.1.0" ] || die "no libcrypt.so.1.1.0 in $vdb/CONTENTS"
    find "$st/image" -type d -exec chmod 0755 {} +
    find "$st/image" -exec touch -h -d "@$t" {} +

    # metadata/: the vdb entry as the binhost built it (no CONTENTS/COUNTER,
    # no EXTRA_ECONF: it was built with upstream's default, all hashes).
    local f size=0
    for f in "$vdb"/*; do
        case ${f##*/} in CONTENTS|COUNTER|SIZE|BUILD_TIME|EXTRA_ECONF) continue ;; esac
        cp "$f" "$st/metadata/"
    done
    while IFS= read -r f; do size=$(( size + $(stat -c %s "$f") )); done < <(find "$st/image" -type f)
    printf '%s\n' "$t" >"$st/metadata/BUILD_TIME"
    printf '%s\n' "$BUILD_ID" >"$st/metadata/BUILD_ID"
    printf '%s\n' "$size" >"$st/metadata/SIZE"
    printf 'declare -x CATEGORY="sys-libs"\ndeclare -x PF="%s"\ndeclare -x SLOT="0/1"\ndeclare -x EAPI="8"\ndeclare -- IUSE="+compat static-libs +system test headers-only"\ndeclare -x USE="abi_x86_64 amd64 compat elibc_glibc kernel_linux system"\n' "$PF" \
        | bzip2 -9 >"$st/metadata/environment.bz2"
    cat >"$st/metadata/$PF.ebuild" <<'EOF'
# argo fixture: stand-in for the ebuild saved in a sys-libs/libxcrypt-4.4.36
# binary package. It is never run: the fake emerge only reads the metadata
# files next to it. Upstream's configure default is --enable-hashes=all.
EAPI=8
DESCRIPTION="Extended crypt library for descrypt, md5crypt, bcrypt, and others"
HOMEPAGE="https://github.com/besser82/libxcrypt"
SRC_URI="https://github.com/besser82/libxcrypt/releases/download/v${PV}/${P}.tar.xz"
LICENSE="LGPL-2.1+ public-domain BSD BSD-2"
SLOT="0/1"
KEYWORDS="~alpha amd64 arm arm64 hppa ~loong ~m68k ~mips ppc ppc64 ~riscv ~s390 sparc x86"
IUSE="+compat static-libs +system test headers-only"
EOF
    find "$st/metadata" -type f -exec chmod 0644 {} + -exec touch -d "@$t" {} +
    touch -d "@$t" "$st/metadata" "$st/image"

    # The members, the Manifest, the outer uncompressed ustar (GLEP 78).
    local base=$PF-$BUILD_ID o=$TMP/outer
    local -a tarflags=(--format=ustar --owner=0 --group=0 --numeric-owner --mtime="@$t" --sort=name)
    mkdir -p "$o/$base"
    : >"$o/$base/gpkg-1"
    tar "${tarflags[@]}" -C "$st" -cf - metadata | gzip -9n >"$o/$base/metadata.tar.gz"
    tar "${tarflags[@]}" -C "$st" -cf - image | gzip -9n >"$o/$base/image.tar.gz"
    { manifest_line "$o/$base" gpkg-1
      manifest_line "$o/$base" metadata.tar.gz
      manifest_line "$o/$base" image.tar.gz; } >"$o/$base/Manifest"
    chmod 0644 "$o/$base"/*
    touch -d "@$t" "$o/$base"/*
    pack_gpkg() { # outer-dir destination
        mkdir -p "$(dirname "$2")"
        tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime="@$t" --no-recursion \
            -C "$1" -cf "$2" "$base/gpkg-1" "$base/metadata.tar.gz" "$base/image.tar.gz" "$base/Manifest"
        touch -d "@$t" "$2"
    }
    pack_gpkg "$o" "$TMP/cache/good/$BINPKG_REL"
    # corrupt: one byte of image.tar.gz flipped after the Manifest was written
    # (same size, so Portage's check fails on the hash, not on the size).
    local c=$TMP/outer-corrupt off byte
    cp -a "$o" "$c"
    off=$(( $(stat -c %s "$c/$base/image.tar.gz") / 2 ))
    byte=$(od -An -tu1 -j "$off" -N1 "$c/$base/image.tar.gz" | tr -d ' ')
    # shellcheck disable=SC2059  # the format is the byte
    printf "$(printf '\\%03o' $(( byte ^ 255 )))" | dd of="$c/$base/image.tar.gz" bs=1 seek="$off" conv=notrunc status=none
    touch -d "@$t" "$c/$base/image.tar.gz"
    pack_gpkg "$c" "$TMP/cache/corrupt/$BINPKG_REL"
    write_packages "$TMP/cache/good/Packages" "$TMP/cache/good/$BINPKG_REL" "$vdb" "$t"
    write_packages "$TMP/cache/corrupt/Packages" "$TMP/cache/corrupt/$BINPKG_REL" "$vdb" "$t"
    mkdir -p "$TMP/cache/empty"
    write_packages "$TMP/cache/empty/Packages" "" "$vdb" "$t"

    # The stash the source path installs from.
    mkdir -p "$TMP/cache/stash"
    cp -a "$st/image" "$TMP/cache/stash/image"
    cp "$LIB_GOOD" "$TMP/cache/stash/libcrypt.so.1.1.0"
    cp "$LIB_BROKEN" "$TMP/cache/stash/libcrypt-nosha512.so.1.1.0"
    chmod 0644 "$TMP/cache/stash"/*.so.*

    # Check what we made before publishing it.
    tar -tf "$TMP/cache/good/$BINPKG_REL" | diff -u - <(printf '%s\n' "$base/gpkg-1" "$base/metadata.tar.gz" "$base/image.tar.gz" "$base/Manifest") >&2 \
        || die "unexpected member list in the GPKG"
    printf 'key=%s\nbuilt_at=%s\nbinpkg_md5=%s\n' "$key" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "$(md5sum <"$TMP/cache/good/$BINPKG_REL" | cut -d' ' -f1)" >"$TMP/cache/.stamp"
    local old=""
    if [ -e "$FE_CACHE" ]; then old=$(mktemp -u -p "$CACHE" .fake-emerge.old.XXXXXX); mv -T "$FE_CACHE" "$old"; fi
    mv -T "$TMP/cache" "$FE_CACHE"
    [ -z "$old" ] || rm -rf -- "$old"
    rm -rf -- "$TMP"; TMP=
}
ensure_cache() {
    local key
    if [ ! -f "$LIB_GOOD" ] || [ ! -f "$LIB_BROKEN" ] || [ ! -f "$BASE/var/db/pkg/sys-libs/$PF/CONTENTS" ]; then
        die "fixture cache incomplete under $CACHE; run build-debian-target.sh first"
    fi
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.fake-emerge.lock"
    flock -s -w 600 8 || die "timed out waiting for $CACHE/.fake-emerge.lock"
    key=$(cache_key)
    cache_ok "$key" && return 0
    # Rebuild: exclusive cache lock, and the builder must not be rebuilding
    # the roots right now (it holds $CACHE/.lock and calls us with
    # ARGO_FIXTURE_LOCK_HELD=1).
    flock -u 8; flock -x -w 600 8 || die "timed out waiting for $CACHE/.fake-emerge.lock"
    if [ "${ARGO_FIXTURE_LOCK_HELD:-0}" != 1 ]; then
        exec 9>"$CACHE/.lock"
        flock -s -w 1800 9 || die "timed out waiting for $CACHE/.lock (fixture build running?)"
    fi
    key=$(cache_key)
    if ! cache_ok "$key"; then build_cache "$key"; fi
    [ "${ARGO_FIXTURE_LOCK_HELD:-0}" = 1 ] || exec 9>&-
    flock -u 8; flock -s -w 600 8 || die "timed out waiting for $CACHE/.fake-emerge.lock"
}

ensure_cache
if (( PREPARE_ONLY )); then
    printf '%s: cache ready in %s\n' "$PROG" "$FE_CACHE" >&2
    exit 0
fi

# ------------------------------------------------------------- copy-in
R=$(readlink -f -- "$ROOT") || die "no such root: $ROOT"
[ -d "$R" ] || die "no such root: $ROOT"
for c in "$BASE" "$BROKEN"; do
    c=$(readlink -m -- "$c")
    case $R/ in
        "$c"/*) die "refusing to modify the cached root $c (copy it first: cp -a $c <scratch>)" ;;
    esac
    case $c/ in
        "$R"/*) die "refusing: $R contains the cached root $c" ;;
    esac
done
[ "$R" != / ] || die "refusing to install into /"
if [ ! -d "$R/var/db/pkg/sys-libs" ] || [ ! -x "$R/bin/bash" ]; then die "$R does not look like a fixture root"; fi

makeconf_has() { grep -Eq "^[[:space:]]*(export[[:space:]]+)?$1=" "$R/etc/portage/make.conf" 2>/dev/null; }
makeconf_get() {
    local v
    v=$(sed -nE "s/^[[:space:]]*(export[[:space:]]+)?$1=//p" "$R/etc/portage/make.conf" 2>/dev/null | tail -n1)
    v=${v#\"}; v=${v%\"}; v=${v#\'}; v=${v%\'}
    printf '%s' "$v"
}
mkdir -p "$R/etc/portage"
[ -f "$R/etc/portage/make.conf" ] || : >"$R/etc/portage/make.conf"
if ! makeconf_has PKGDIR || ! makeconf_has DISTDIR; then
    {
        printf '\n# Added by install-fake-emerge.sh (Portage defaults).\n'
        makeconf_has PKGDIR || printf 'PKGDIR="/var/cache/binpkgs"\n'
        makeconf_has DISTDIR || printf 'DISTDIR="/var/cache/distfiles"\n'
    } >>"$R/etc/portage/make.conf"
fi
PKGDIR=$(makeconf_get PKGDIR); PKGDIR=${PKGDIR:-/var/cache/binpkgs}
DISTDIR=$(makeconf_get DISTDIR); DISTDIR=${DISTDIR:-/var/cache/distfiles}
mkdir -p "$R$PKGDIR/sys-libs/libxcrypt" "$R$DISTDIR"

install -D -m 0755 "$FE_SRC/emerge" "$R/usr/bin/emerge.argo-new"
mv -f "$R/usr/bin/emerge.argo-new" "$R/usr/bin/emerge"
rm -rf "$R/usr/lib/argo-fake-emerge"
mkdir -p "$R/usr/lib/argo-fake-emerge"
cp -a "$FE_CACHE/stash/." "$R/usr/lib/argo-fake-emerge/"
install -m 0644 "$FE_SRC/usage.txt" "$R/usr/lib/argo-fake-emerge/usage.txt"

pkg=$R$PKGDIR/$BINPKG_REL
rm -f -- "$pkg" "$pkg"._checksum_failure_.*
case $BINARY in
    ok)      cp -p "$FE_CACHE/good/$BINPKG_REL" "$pkg"; cp -p "$FE_CACHE/good/Packages" "$R$PKGDIR/Packages" ;;
    fail)    cp -p "$FE_CACHE/corrupt/$BINPKG_REL" "$pkg"; cp -p "$FE_CACHE/corrupt/Packages" "$R$PKGDIR/Packages" ;;
    missing) cp -p "$FE_CACHE/empty/Packages" "$R$PKGDIR/Packages" ;;
esac

if [ ! -f "$R/var/cache/edb/counter" ]; then
    max=0
    for f in "$R"/var/db/pkg/*/*/COUNTER; do
        read -r c <"$f" || true
        [[ ${c:-} =~ ^[0-9]+$ ]] && (( c > max )) && max=$c
    done
    mkdir -p "$R/var/cache/edb"
    printf '%s' "$max" >"$R/var/cache/edb/counter"
fi
if [ ! -e "$R/var/log/emerge.log" ]; then
    mkdir -p "$R/var/log"; : >"$R/var/log/emerge.log"; chmod 0660 "$R/var/log/emerge.log"
fi

conf=$R/etc/argo-fake-emerge.conf
{
    printf '# Written by test/chroot-fixtures/install-fake-emerge.sh; read by /usr/bin/emerge.\n'
    printf '# Unset keys take their defaults (see test/chroot-fixtures/README.md).\n'
    for k in "${CONF_ORDER[@]}"; do printf '%s=%s\n' "$k" "${CONF[$k]}"; done
} >"$conf.argo-new"
mv -f "$conf.argo-new" "$conf"
printf 'ARGO_FAKE_EMERGE root=%s binary=%s binpkg=%s conf=%s\n' "$R" "$BINARY" \
    "$( [ -f "$pkg" ] && printf '%s' "$PKGDIR/$BINPKG_REL" || printf none)" /etc/argo-fake-emerge.conf
