#!/usr/bin/env bash
# Runs before jest (npm test): the tests spawn these commands, and a test that finds one missing fails
# deep inside with ENOENT. All present: silent. Missing as root with apt-get: install them. Otherwise one
# line naming what is missing and how to install it, and a non-zero exit before any test starts.
# ACM_EXPORT_TEST_NO_INSTALL=1 never installs (the test of this script uses it).
set -euo pipefail

# command:Debian package. The one list of what the tests need.
REQUIRED=(
  nginx:nginx-light
  apache2:apache2
  openssl:openssl
  shellcheck:shellcheck
  flock:util-linux
  timeout:coreutils
  sha256sum:coreutils
  find:findutils
  getent:libc-bin
)

missing_commands=()
missing_packages=()

check() {
  missing_commands=()
  missing_packages=()
  # The node programs refuse bash older than 4.4; the tests run them with this bash.
  if [ "$((${BASH_VERSINFO[0]:-0} * 100 + ${BASH_VERSINFO[1]:-0}))" -lt 404 ]; then
    missing_commands+=("bash>=4.4")
    missing_packages+=(bash)
  fi
  local entry
  for entry in "${REQUIRED[@]}"; do
    if ! command -v "${entry%%:*}" >/dev/null 2>&1; then
      missing_commands+=("${entry%%:*}")
      missing_packages+=("${entry#*:}")
    fi
  done
}

check
[ "${#missing_commands[@]}" -eq 0 ] && exit 0

if [ "${ACM_EXPORT_TEST_NO_INSTALL:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: installing ${missing_packages[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null; then
    check
    [ "${#missing_commands[@]}" -eq 0 ] && exit 0
  fi
fi

echo "npm test needs ${missing_commands[*]} (Debian packages: ${missing_packages[*]}); install them with: sudo apt-get install -y ${missing_packages[*]}" >&2
exit 1
