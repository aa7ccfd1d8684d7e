#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for cffi-bun, then installs (and so builds) it:
#   1. installs the system packages the project needs, if any are missing
#      (apt-get update runs only then; sudo is used only when not root);
#   2. runs `npm install` in the repo, which builds the addon via scripts/install.js.
# Idempotent: when everything is present it installs nothing and prints one line for step 1.
#
# Usage: bash scripts/setup.sh          (README: `bash scripts/setup.sh && npm test`)
# Env:   CFFI_BUN_SETUP_SKIP_APT=1      skip step 1 (e.g. on a machine managed otherwise).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# What the project needs at build, test and demo time:
#   build-essential, python3     compiler/make for node-gyp, and node-gyp's Python
#   libffi-dev, pkg-config        libffi headers and library, found through pkg-config
#   libsqlite3-dev                the system SQLite used by the demo and tests (libsqlite3.so)
#   tcc, libtcc-dev               TinyCC for cc() / generated wrappers
#   zlib1g                        the system libz (libz.so.1) of test/parity.test.js's round trip
#                                 (its OpenSSL test needs libcrypto.so.3 at run time only, and
#                                 skips without it: no headers are needed for either)
PACKAGES=(build-essential python3 libffi-dev pkg-config libsqlite3-dev tcc libtcc-dev zlib1g)

log() { printf 'setup: %s\n' "$*"; }

install_system_packages() {
  if [[ "${CFFI_BUN_SETUP_SKIP_APT:-}" == "1" ]]; then
    log "CFFI_BUN_SETUP_SKIP_APT=1: not checking system packages"
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    log "not a Debian/Ubuntu system (no apt-get); skipping system packages."
    log "Install a C compiler, make, libffi (headers), pkg-config, python3, SQLite and TinyCC yourself;"
    log "npm install will tell you what is still missing."
    return 0
  fi

  local missing=() pkg status
  for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done

  if [[ ${#missing[@]} -eq 0 ]]; then
    log "system packages present (${PACKAGES[*]})"
    return 0
  fi

  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      log "missing packages: ${missing[*]}"
      log "not root and no sudo: install them as root with"
      log "  apt-get update && apt-get install -y ${missing[*]}"
      exit 1
    fi
  fi

  log "installing missing system packages: ${missing[*]}"
  local apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
  # apt's chatter goes to a log that is shown only if a step fails.
  local aptlog
  aptlog="$(mktemp)"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q >"$aptlog" 2>&1 ||
     ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q \
         --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
    cat "$aptlog" >&2
    rm -f "$aptlog"
    log "apt-get failed (output above); could not install: ${missing[*]}"
    exit 1
  fi
  rm -f "$aptlog"
  log "installed: ${missing[*]}"
}

install_system_packages

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node and npm are needed (Node.js 20 or newer); install them and run this again."
  exit 1
fi

log "npm install (builds the native addon)"
cd "$REPO_ROOT"
npm install --no-audit --no-fund
