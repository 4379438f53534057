# Runs INSIDE a fixture root (chroot ROOT /bin/bash -s -- PACKAGE...; the roots have no Node.js), so that
# absolute symlinks resolve against the root. Lists the files of the Debian packages as Portage CONTENTS lines.
# Output lines: "C <CONTENTS line>", "S <bytes>" (regular files), "E <path>\t<realpath>" (ELF files).
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
