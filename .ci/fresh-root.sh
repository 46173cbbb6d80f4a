#!/usr/bin/env bash
# A clean Debian 12 root that stands in for a new CI machine, and cold runs of .ci/run inside it.
#
#   .ci/fresh-root.sh build BASE PACKAGES   once: debootstrap BASE, install the apt packages named
#                                           in PACKAGES (lines "apt<TAB>name<TAB>version"), copy in
#                                           this machine's Node and npm
#   .ci/fresh-root.sh run BASE REPO [N]     N times: copy BASE afresh, clone REPO's main into it and
#                                           run `CI=true bash .ci/run` there; prints each wall time
#
# Every run starts from the untouched BASE, so nothing is cached: no npm cache, no built gl addon,
# no Mesa shader cache. Needs root.
set -euo pipefail

mirror=http://deb.debian.org/debian

# Package scripts (Java's, for one) and the tests need /proc, /sys and /dev inside the root.
mount_system() {
  mount -t proc proc "$1/proc"
  mount --rbind /sys "$1/sys"
  mount --rbind /dev "$1/dev"
}
umount_system() {
  umount -R "$1/dev" "$1/sys" "$1/proc" 2>/dev/null || umount -lR "$1/dev" "$1/sys" "$1/proc"
}

build() {
  local base=$1 packages=$2
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  debootstrap --variant=minbase bookworm "$base" "$mirror" >/tmp/debootstrap.log
  # The same package sources as this machine, once (debootstrap wrote its own sources.list).
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$base/etc/apt/sources.list.d/" && rm -f "$base/etc/apt/sources.list"
  fi
  mount_system "$base"
  trap 'umount_system "$base"' EXIT
  chroot "$base" apt-get update -qq
  # Only the names this Debian release knows (the list comes from a slightly different image).
  awk -F'\t' '$1 == "apt" { sub(/:.*/, "", $2); print $2 }' "$packages" | sort -u >"$base/tmp/wanted"
  chroot "$base" bash -c 'apt-cache pkgnames | sort -u | comm -12 - /tmp/wanted >/tmp/known'
  chroot "$base" bash -c 'DEBIAN_FRONTEND=noninteractive xargs -a /tmp/known apt-get install -y -qq --no-install-recommends python-is-python3 >/dev/null'
  cp -a "$(readlink -f "$(command -v node)")" "$base/usr/bin/node"
  mkdir -p "$base/usr/lib/node_modules"
  cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$base/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$base/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$base/usr/bin/npx"
  chroot "$base" apt-get clean
  umount_system "$base"
  trap - EXIT
  echo "built $base: $(wc -l <"$base/tmp/known") packages, node $(chroot "$base" node --version)"
}

run_once() {
  local base=$1 repo=$2 root=$3
  rm -rf "$root"
  cp -a "$base" "$root"
  git clone -q --branch main "$repo" "$root/root/tsgrad"
  mount_system "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  local start=$SECONDS rc=0
  chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI=true bash -c 'cd /root/tsgrad && bash .ci/run' >"$root.log" 2>&1 || rc=$?
  umount_system "$root"
  echo "run $root: exit $rc in $((SECONDS - start)) s; $(grep -E 'Tests .*(passed|failed)' "$root.log" | tail -1)"
  return $rc
}

case "${1:-}" in
  build) build "$2" "$3" ;;
  run)
    failed=0
    for i in $(seq 1 "${4:-1}"); do run_once "$2" "$3" "$2-run$i" || failed=1; done
    exit $failed ;;
  *) sed -n '2,11p' "$0"; exit 2 ;;
esac
