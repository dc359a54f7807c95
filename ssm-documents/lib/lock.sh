# shellcheck shell=bash

# The per-CertName lock that serializes pushes, association runs, reports and removals on this node.
LOCK_FD=9
take_lock() {
  # Taken once a run (an association run takes it before its unchanged check, and keeps it).
  [ "${LOCK_HELD:-0}" = 0 ] || return 0
  # Never open the lock through a symbolic link or anything but a regular file (a FIFO would block).
  LOCK_FILE="$KeyDir/.$CertName.acm-export.lock"
  if [ -L "$LOCK_FILE" ] || { [ -e "$LOCK_FILE" ] && [ ! -f "$LOCK_FILE" ]; }; then
    fail lock "$LOCK_FILE is a symbolic link or not a regular file; refusing to open it"
  fi
  exec 9>>"$LOCK_FILE"
  if [ -L "$LOCK_FILE" ] || ! [ /dev/fd/9 -ef "$LOCK_FILE" ]; then
    fail lock "$LOCK_FILE was replaced while it was being opened"
  fi
  if ! flock -n "$LOCK_FD"; then
    log "another run for $CertName is in progress on this node; waiting up to ${lock_seconds}s"
    flock -w "$lock_seconds" "$LOCK_FD" || fail lock "another run for $CertName held the lock for more than ${lock_seconds}s"
  fi
  LOCK_HELD=1
}

