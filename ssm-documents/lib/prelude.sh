# shellcheck shell=bash
# Shell options and the bash check every program starts with (first in each document's joined script; the
# only library file that does something when it is read). bash 3 has no associative arrays: it stops here
# with one line, exit 11, before the parameter tables below it are read.
set -Eeuo pipefail
umask 077
export LC_ALL=C
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
if [ "${BASH_VERSINFO[0]:-0}" -lt 4 ]; then
  echo "acm-export: FAILED at preflight: bash 4 or later is required" >&2
  exit 11
fi
