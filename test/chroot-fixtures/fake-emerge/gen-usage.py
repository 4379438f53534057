# Regenerates usage.txt: the usage block argparse prints before "emerge: error: ...".
# Rebuilds the parser of gentoo/portage lib/_emerge/main.py (parse_opts, commit 02665d4b)
# with the same add_argument calls; run: COLUMNS=80 python3 gen-usage.py > usage.txt
# Portage keeps its actions in a frozenset, so the real order of the first
# dozen entries changes from run to run (PYTHONHASHSEED); here they are sorted.
import argparse, sys, os
os.environ["COLUMNS"] = "80"
actions = sorted(["clean","check-news","config","depclean","help","info","list-sets","metadata","moo","prune","rage-clean","regen","search","sync","unmerge","version"])
options = ["--alphabetical","--ask-enter-invalid","--buildpkgonly","--changed-use","--columns","--debug","--digest","--emptytree","--verbose-conflicts","--fetchonly","--fetch-all-uri","--ignore-default-opts","--noconfmem","--newrepo","--newuse","--nodeps","--noreplace","--nospinner","--oneshot","--onlydeps","--pretend","--quiet-repo-display","--quiet-unmerge-warn","--resume","--searchdesc","--skipfirst","--tree","--unordered-display","--update","--update-if-installed"]
shortmapping = {"1":"--oneshot","B":"--buildpkgonly","c":"--depclean","C":"--unmerge","d":"--debug","e":"--emptytree","f":"--fetchonly","F":"--fetch-all-uri","h":"--help","n":"--noreplace","N":"--newuse","o":"--onlydeps","O":"--nodeps","p":"--pretend","P":"--prune","r":"--resume","s":"--search","S":"--searchdesc","t":"--tree","u":"--update","U":"--changed-use","V":"--version"}
aliases = {"--cols":"--columns","--skip-first":"--skipfirst"}
yn=("y","n"); tyn=("True","y","n")
A = [ # (name, shortopt, kind) kind: choices tuple or "store"/"append"
("--alert","-A",tyn),("--ask","-a",tyn),("--autounmask",None,tyn),("--autounmask-backtrack",None,yn),
("--autounmask-continue",None,tyn),("--autounmask-only",None,tyn),("--autounmask-license",None,yn),
("--autounmask-unrestricted-atoms",None,tyn),("--autounmask-use",None,yn),("--autounmask-keep-keywords",None,tyn),
("--autounmask-keep-masks",None,tyn),("--autounmask-write",None,tyn),("--accept-properties",None,"store"),
("--accept-restrict",None,"store"),("--backtrack",None,"store"),("--binpkg-changed-deps",None,tyn),
("--buildpkg","-b",tyn),("--buildpkg-exclude",None,"append"),("--changed-deps",None,tyn),
("--changed-deps-report",None,tyn),("--changed-slot",None,tyn),("--config-root",None,"store"),
("--color",None,yn),("--complete-graph",None,tyn),("--complete-graph-if-new-use",None,yn),
("--complete-graph-if-new-ver",None,yn),("--deep","-D","store"),("--depclean-lib-check",None,tyn),
("--deselect","-W",tyn),("--dynamic-deps",None,yn),("--exclude","-X","append"),("--fail-clean",None,tyn),
("--fuzzy-search",None,tyn),("--ignore-built-slot-operator-deps",None,yn),("--ignore-soname-deps",None,yn),
("--ignore-world",None,tyn),("--implicit-system-deps",None,yn),("--jobs","-j","store"),("--keep-going",None,tyn),
("--load-average","-l","store"),("--misspell-suggestions",None,yn),("--with-bdeps",None,yn),
("--with-bdeps-auto",None,yn),("--reinstall",None,("changed-use",)),("--reinstall-atoms",None,"append"),
("--binpkg-respect-use",None,tyn),("--getbinpkg","-g",tyn),("--getbinpkgonly","-G",tyn),
("--usepkg-exclude",None,"append"),("--onlydeps-with-ideps",None,tyn),("--onlydeps-with-rdeps",None,tyn),
("--rebuild-exclude",None,"append"),("--rebuild-ignore",None,"append"),("--package-moves",None,tyn),
("--prefix",None,"store"),("--pkg-format",None,"store"),("--quickpkg-direct",None,yn),
("--quickpkg-direct-root",None,"store"),("--quiet","-q",tyn),("--quiet-build",None,tyn),("--quiet-fail",None,tyn),
("--read-news",None,tyn),("--rebuild-if-new-slot",None,tyn),("--rebuild-if-new-rev",None,tyn),
("--rebuild-if-new-ver",None,tyn),("--rebuild-if-unbuilt",None,tyn),("--rebuilt-binaries",None,tyn),
("--rebuilt-binaries-timestamp",None,"store"),("--regex-search-auto",None,yn),("--root",None,"store"),
("--root-deps",None,("True","rdeps")),("--search-index",None,yn),("--search-similarity",None,"store"),
("--select","-w",tyn),("--selective",None,tyn),("--sync-submodule",None,"append-choices"),
("--sysroot",None,"store"),("--use-ebuild-visibility",None,tyn),("--useoldpkg-atoms",None,"append"),
("--usepkg","-k",tyn),("--usepkgonly","-K",tyn),("--usepkg-exclude-live",None,tyn),("--verbose","-v",tyn),
("--verbose-slot-rebuilds",None,tyn),("--with-test-deps",None,tyn)]
p = argparse.ArgumentParser(prog="emerge", add_help=False)
for a in actions: p.add_argument("--"+a, action="store_true", dest=a.replace("-","_"))
for o in options: p.add_argument(o, action="store_true", dest=o.lstrip("-").replace("-","_"))
for s,l in shortmapping.items(): p.add_argument("-"+s, action="store_true", dest=l.lstrip("-").replace("-","_"))
for a,o in aliases.items(): p.add_argument(a, action="store_true", dest=o.lstrip("-").replace("-","_"))
for name, short, kind in A:
    args=[name]+([short] if short else [])
    kw={}
    if kind=="store": kw["action"]="store"
    elif kind=="append": kw["action"]="append"
    elif kind=="append-choices": kw["action"]="append"; kw["choices"]=("glsa","news","profiles")
    else: kw["choices"]=kind
    p.add_argument(*args, dest=name.lstrip("-").replace("-","_"), **kw)
p.add_argument("positional_args", nargs="*")
sys.stdout.write(p.format_usage())
if len(sys.argv) > 1:
    p.parse_intermixed_args(sys.argv[1:])
