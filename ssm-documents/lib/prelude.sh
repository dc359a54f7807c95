# shellcheck shell=bash
# Shell options and the bash check every program starts with (first in each document's joined script; the
# only library file that does something when it is read). Before 4.4, bash stops on every empty array a program
# expands under set -u (bash 3 has no associative arrays at all): it stops here with one line, exit 11, before the
# parameter tables below it are read.
set -Eeuo pipefail
umask 077
export LC_ALL=C
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
if [ "$((${BASH_VERSINFO[0]:-0} * 100 + ${BASH_VERSINFO[1]:-0}))" -lt 404 ]; then
  echo "acm-export: FAILED at preflight: bash 4.4 or later is required (this is bash ${BASH_VERSION:-unknown})" >&2
  exit 11
fi
