# ci-common.sh - sourced by scripts/ci-arm64.sh and scripts/ci-windows.sh:
# what both emulated targets do the same way. Each step's time (lap), root
# or sudo, and installing the Debian packages that are missing, quietly
# (apt's output is shown only when it fails). Expects CI_NAME and WORK.
t0=$SECONDS
log() { printf '%s: %s\n' "$CI_NAME" "$*"; }
lap() { log "$1 in $((SECONDS - t0)) s"; t0=$SECONDS; }

sudo=()
[[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 -q)

# apt_install_missing PKG... (PKG may carry an :arch)
apt_install_missing() {
  local pkg missing=()
  for pkg in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$pkg")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  log "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update >"$WORK/apt.log" 2>&1 &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
      "${missing[@]}" >>"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; exit 1; }
}
