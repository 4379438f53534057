#!/usr/bin/env bash
# The build swarm end to end on one machine: `build-swarm up` (a private redis-server, the gateway, two
# orchestrators, two drones running the faithful fake emerge, which writes real GPKGs), a cycle over the real
# dependency graph of a Gentoo Prefix (135 packages, test/fixtures/gentoo/clusterhq-prefix), a drone killed
# with SIGKILL mid-cycle (the swarm takes its build back and finishes), verify, finalize to production, and
# `apkg update` of a client root (a btrfs copy of the Debian fixture root) from the new production binhost.
# Everything lives in a temporary folder that is removed at the end; `up` is stopped whatever happens.
# Exit 0 only when every step worked.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
project=$PWD
bash scripts/setup.sh --fixtures
export PATH="$project/node_modules/.bin:$PATH"
# shellcheck disable=SC1091
source "${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}/argo-fixture.env"

clusterhq=$project/test/fixtures/gentoo/clusterhq-prefix
swarm() { node "$project/dist/cli/build-swarm.js" "$@"; }
step() { printf '\n== %s\n' "$*"; }

work=$(mktemp -d -p /var/tmp argo-swarm-demo-XXXXXX)
data=$work/swarm
up_pid=
loop=
cleanup() {
  local status=$?
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  if [ -n "$loop" ]; then
    findmnt -rn -o TARGET | grep -F "$work/mnt" | sort -r | xargs -r umount -R --lazy 2>/dev/null || true
    losetup -d "$loop" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# The demo's questions to the gateway, through its HTTP API (read with the read token, writes with admin).
cat > "$work/ask.mjs" <<'EOF'
import { readFileSync } from 'node:fs';
const [what, url, data, ...rest] = process.argv.slice(2);
const token = (scope) => readFileSync(`${data}/${scope}.token`, 'utf8').trim();
const call = async (path, init = {}, scope = 'read') => {
  const answer = await fetch(`${url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token(scope)}`, 'content-type': 'application/json', ...init.headers } });
  const body = await answer.json();
  if (!answer.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${answer.status} ${JSON.stringify(body.error ?? body)}`);
  return body;
};
const until = async (label, probe, seconds) => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${seconds} s waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const cycleOf = async (id) => (await call('/status')).cycles.find((cycle) => cycle.id === id);
if (what === 'start-cycle') {
  const { clusterhqRebuildPlan } = await import(`${process.cwd()}/test/support/swarm-plan.ts`);
  // ARGO_SWARM_DEMO_PACKAGES=N takes the first N packages in merge order (default: all 135).
  const count = Number(process.env.ARGO_SWARM_DEMO_PACKAGES || 0);
  let plan = await clusterhqRebuildPlan();
  if (count > 0) {
    const lines = plan.split('\n').filter((line) => line.startsWith('[ebuild')).slice(0, count);
    plan = `${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB\n`;
  }
  const started = await call('/profiles/desktop/cycles', { method: 'POST', body: JSON.stringify({ plan }) }, 'admin');
  console.log(started.cycle);
} else if (what === 'wait-building') {
  // A drone in the middle of a build, at least a few packages into the cycle: its id and what it builds.
  const [cycle] = rest;
  console.log(await until('a drone building', async () => {
    const status = await call('/status');
    const built = status.cycles.find((entry) => entry.id === cycle)?.counts.built ?? 0;
    const drone = status.drones.find((entry) => entry.state === 'building' && entry.building.length > 0);
    return built >= 5 && drone !== undefined ? `${drone.id} ${drone.building[0].split(' ')[1]}` : undefined;
  }, 120));
} else if (what === 'wait-finished') {
  const [cycle] = rest;
  let shown = -1;
  const finished = await until(`cycle ${cycle} to finish`, async () => {
    const entry = await cycleOf(cycle);
    if (entry !== undefined && entry.counts.built !== shown && entry.counts.built % 20 === 0) {
      shown = entry.counts.built;
      console.log(`   ${entry.counts.built}/${entry.packages.length} built, ${entry.counts.failed} failed, ~${Math.round(entry.eta)} s left`);
    }
    return entry?.status === 'finished' ? entry : undefined;
  }, 600);
  console.log(`   finished: ${JSON.stringify(finished.counts)}, ${Math.round(finished.elapsed)} s, makespan/lower bound ${finished.ratio?.toFixed?.(2) ?? '?'}`);
  if (finished.counts.built !== finished.packages.length) throw new Error(`only ${finished.counts.built} of ${finished.packages.length} packages were built`);
} else if (what === 'package') {
  // The record of the killed drone's package: its attempts and why the first one did not count.
  const [cycle, cpv] = rest;
  const record = await call(`/cycles/${cycle}/packages/${cpv}`);
  console.log(`   ${cpv}: ${record.state} by ${record.built?.drone ?? record.drone ?? '?'} (attempt ${record.attempt})`);
  for (const failure of record.failures ?? []) console.log(`   attempt ${failure.attempt} on ${failure.drone}: ${failure.kind}: ${failure.reason}`);
  if (record.state !== 'built') throw new Error(`${cpv} is ${record.state}`);
} else if (what === 'plan') {
  // The emerge -pv a client prints for these clusterhq packages (see test/support/swarm-client-fixtures.ts).
  const { clusterhqRebuildPlan } = await import(`${process.cwd()}/test/support/swarm-plan.ts`);
  const wanted = new Set(rest);
  const lines = (await clusterhqRebuildPlan()).split('\n').filter((line) => line.startsWith('[ebuild') && wanted.has(line.split(/\s+/)[3]));
  console.log(`\nThese are the packages that would be merged, in order:\n\nCalculating dependencies... done!\n\n${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB`);
} else {
  throw new Error(`unknown question ${what}`);
}
EOF
ask() { (cd "$project" && node "$work/ask.mjs" "$@"); }

step "build-swarm up: redis-server, gateway, 2 orchestrators, 2 drones (the fake emerge) in $data"
# Each drone's profile root starts as this seed: make.conf, the prefix's repository (md5-cache) and its
# installed system (VDB), and the fake emerge's settings (real durations from the prefix's emerge.log, 1/1000).
seed=$work/seed
mkdir -p "$seed/etc/portage" "$seed/var/db/repos/gentoo/metadata" "$seed/var/log"
printf '%s\n' 'CHOST="x86_64-pc-linux-gnu"' 'CFLAGS="-O2 -pipe"' 'PKGDIR="/var/cache/binpkgs"' 'FEATURES="buildpkg binpkg-multi-instance"' > "$seed/etc/portage/make.conf"
cp -a "$clusterhq/md5-cache-installed" "$seed/var/db/repos/gentoo/metadata/md5-cache"
cp -a "$clusterhq/var/db/pkg" "$seed/var/db/pkg"
printf '%s\n' "DURATIONS_LOG=$clusterhq/var/log/emerge.log" 'TIME_SCALE=0.001' 'MIN_SECONDS=0.05' > "$seed/etc/argo-fake-emerge.conf"
node "$project/dist/cli/build-swarm.js" up --data "$data" --drones 2 --port 0 --json \
  --md5-cache "$clusterhq/md5-cache-installed" --history "$clusterhq/var/log/emerge.log" \
  --emerge "$project/test/swarm-fixtures/bin/emerge" --seed "$seed" > "$work/up.out" 2> "$work/up.err" &
up_pid=$!
deadline=$((SECONDS + 150))
until grep -q '"ready":true' "$work/up.out" 2>/dev/null; do
  if ! kill -0 "$up_pid" 2>/dev/null || [ "$SECONDS" -gt "$deadline" ]; then
    echo "build-swarm up did not get ready:"; cat "$work/up.err"; exit 1
  fi
  sleep 0.2
done
ready=$(grep '"ready":true' "$work/up.out")
field() { node -e 'const r = JSON.parse(process.argv[1]); console.log(process.argv[2].split(".").reduce((v, k) => v[k], r))' "$ready" "$1"; }
url=$(field url)
echo "   dashboard $(field dashboard) (read-only without a token), leader $(field leader), drones $(field drones)"
echo "   ARGO_SWARM_GATEWAY=$url ARGO_SWARM_TOKEN_FILE=$(field adminTokenFile)"

step "a cycle over the clusterhq prefix's real dependency graph, started through the gateway"
cycle=$(ask start-cycle "$url" "$data")
echo "   cycle $cycle"

step "kill -9 of a drone in the middle of a build"
building=$(ask wait-building "$url" "$data" "$cycle")
read -r victim cpv <<< "$building"
victim_pid=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).children[process.argv[2]])' "$data/pids.json" "$victim")
kill -9 "$victim_pid"
echo "   killed $victim (pid $victim_pid) while it built $cpv"

step "the swarm takes the build back and finishes the cycle"
ask wait-finished "$url" "$data" "$cycle"
ask package "$url" "$data" "$cycle" "$cpv"
grep -F "$victim" "$work/up.err" | sed 's/^/   /' || true

step "build-swarm verify --profile desktop"
verify=0
swarm verify --config "$data/swarm.json" --profile desktop || verify=$?
# The prefix takes X11 and a few more libraries from its host, outside the cycle's packages: verify names them as
# unsatisfied dependencies and nothing else; any other finding fails the demo.
swarm verify --config "$data/swarm.json" --profile desktop --json > "$work/verify.json" || true
node -e '
  const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const scored = v.components.filter((c) => c.points > 0).map((c) => c.id);
  if (scored.some((id) => id !== "unsatisfied-deps")) { console.error(`verify found more than the prefix host libraries: ${scored}`); process.exit(1); }
' "$work/verify.json"

step "build-swarm finalize --profile desktop: staging becomes production"
if [ "$verify" -eq 0 ]; then
  swarm finalize --profile desktop --gateway "$url" --token-file "$data/admin.token"
else
  swarm finalize --profile desktop --gateway "$url" --token-file "$data/admin.token" --force 'demo: the prefix takes some libraries from its host (verify lists them)'
fi

step "apkg update of a client root from the new production binhost"
# A client: a btrfs subvolume copy of the Debian fixture root (apkg snapshots it before and after), with the
# fake Portage emerge whose plan is five packages of the prefix, all in production now.
mkdir -p "$work/mnt"
truncate -s 6G "$work/client.img"
loop=$(losetup --find --show "$work/client.img")
mkfs.btrfs -q "$loop"
mount "$loop" "$work/mnt"
btrfs subvolume create "$work/mnt/client" >/dev/null
client=$work/mnt/client
cp -a "$ARGO_FIXTURE_BASE/." "$client"
bash test/chroot-fixtures/install-fake-emerge.sh "$client" BINARY=ok WORLD_BINHOST_HAS=all >/dev/null
ask plan "$url" "$data" app-arch/bzip2-1.0.6-r7 app-arch/xz-utils-5.0.6 app-misc/mime-types-9 app-arch/lz4-0_p120 sys-apps/which-2.20-r1 > "$client/etc/argo-fake-emerge.plan"
mkdir -p "$client/var/db/repos/gentoo/metadata" "$client/etc/portage/package.use"
LC_ALL=C date -u -d '1 hour ago' '+%a, %d %b %Y %H:%M:%S +0000' > "$client/var/db/repos/gentoo/metadata/timestamp.chk"
echo 'sys-libs/libxcrypt compat system' > "$client/etc/portage/package.use/libxcrypt"
# Production over HTTP: the local swarm serves its binhosts without a token, on 127.0.0.1 only.
node dist/cli/apkg.js update --root "$client" --binhost "$url/binhost/desktop/"

step "build-swarm up stopped with SIGTERM: drones drain, then orchestrators, gateway, redis-server"
pids=$(node -e 'const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(Object.values(p.children).join(" "))' "$data/pids.json")
kill -TERM "$up_pid"
wait "$up_pid"
up_pid=
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then echo "   pid $pid of the swarm is still running"; exit 1; fi
done
echo "   stopped; none of its processes ($pids) is left"
echo
echo "swarm demo: every step worked"
