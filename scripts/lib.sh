# Shared helpers for scripts/up, scripts/test and .ci/run (sourced, not run).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

# Debian packages the build and the test suite need; installed only when missing.
APT_BUILD=(build-essential python3 ca-certificates curl)
# What edge hosts need to run workloads: OCI runtimes, the busybox base image, QEMU for microVMs,
# nftables and Open vSwitch (userspace datapath) for virtual networks, and the disk/ISO tools for
# images and context volumes.
APT_HOST=(crun runc busybox-static iproute2 util-linux nftables openvswitch-switch
  qemu-system-x86 qemu-utils e2fsprogs genisoimage dosfstools mtools linux-image-cloud-amd64 lz4)
# Only the test suite: PostgreSQL (store tests; scripts/start-postgres), Chromium (web UI tests),
# tcpdump (the ovswitch test checks that frames on the trunk carry 802.1Q tags), and the DPDK build of
# Open vSwitch with DPDK's ring mempool driver (only recommended by dpdk, yet without it every
# vhost-user port fails) for vhost-user microVM NICs (test/vhost-user.test.ts; hosts that want
# BRIDGE_TYPE = openvswitch_dpdk networks install the same two, plus 2 MB hugepages).
APT_TEST=(postgresql chromium tcpdump openvswitch-switch-dpdk librte-mempool-ring23)

need_root() {
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else log "run as root (or install sudo)"; exit 1; fi
  else SUDO=; fi
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_node() {
  if ! command -v node >/dev/null 2>&1; then log "Node.js 20 or newer is required (node not found)"; exit 1; fi
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then log "Node.js 20 or newer is required (found $(node --version))"; exit 1; fi
}

npm_install() {
  cd "$REPO"
  # Reinstall only when the lock file changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

build() {
  cd "$REPO"
  log "building"
  npm run --silent build
  log "building the web UI"
  npm run --silent build:web >/dev/null
}
