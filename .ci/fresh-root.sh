#!/usr/bin/env bash
# A clean Debian 12 root that stands in for a new CI machine, and cold runs of .ci/run inside it.
#
#   .ci/fresh-root.sh build BASE PACKAGES   once: debootstrap BASE, install the apt packages named
#                                           in PACKAGES (lines "apt<TAB>name<TAB>version"), copy in
#                                           this machine's Node, npm and its settings
#   .ci/fresh-root.sh run BASE REPO [N]     N times: copy BASE afresh, clone REPO's main into it and
#                                           run `CI=true bash .ci/run` there; prints each wall time
#
# Every run starts from the untouched BASE (an overlay), so nothing is cached: no npm cache, no built gl addon,
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
  local m
  for m in dev sys proc; do
    mountpoint -q "$1/$m" && { umount -R "$1/$m" 2>/dev/null || umount -lR "$1/$m"; }
  done
  return 0
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
  # Node as a machine of this kind has it: the binary, npm, the headers node-gyp builds against
  # (npm's nodedir points at them; there is no network to download them) and npm's settings.
  cp -a /usr/bin/node "$base/usr/bin/node"
  mkdir -p "$base/usr/lib/node_modules" "$base/usr/include" "$base/usr/etc"
  cp -a /usr/lib/node_modules/. "$base/usr/lib/node_modules/"
  cp -a /usr/include/node "$base/usr/include/"
  for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do [ -f "$f" ] && cp -a "$f" "$base$f"; done
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$base/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$base/usr/bin/npx"
  # This machine's own certificate authorities (a proxy's, say), as a new machine of its kind has them.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$base/usr/local/share/ca-certificates/"
    chroot "$base" update-ca-certificates >/dev/null
  fi
  chroot "$base" apt-get clean
  umount_system "$base"
  trap - EXIT
  echo "built $base: $(wc -l <"$base/tmp/known") packages, node $(chroot "$base" node --version)"
}

run_once() {
  local base=$1 repo=$2 root=$3
  # An overlay on the untouched BASE: the run's writes land in a layer of its own, thrown away after.
  rm -rf "$root" "$root.layer"
  mkdir -p "$root" "$root.layer/upper" "$root.layer/work"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$root.layer/upper,workdir=$root.layer/work" "$root"
  git clone -q --branch main "$repo" "$root/root/tsgrad"
  mount_system "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  local start=$SECONDS rc=0
  # A clean environment, but for the certificate settings a machine of this kind carries.
  local certs=()
  for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR; do [ -n "${!v:-}" ] && certs+=("$v=${!v}"); done
  chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI=true "${certs[@]}" bash -c 'cd /root/tsgrad && bash .ci/run' >"$root.log" 2>&1 || rc=$?
  umount_system "$root"
  umount "$root" && rm -rf "$root.layer"
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
