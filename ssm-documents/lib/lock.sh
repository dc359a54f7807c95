# shellcheck shell=bash

# The per-CertName lock that serializes pushes, association runs, reports and removals on this node. It lies in
# the state directory (checked like CertDir at preflight): there whatever KeyDir a run names, and before
# KeyDir exists (a removal or a report sent while a first install is under way waits for it).
LOCK_FD=9
take_lock() {
  # Taken once a run (an association run takes it before its unchanged check, and keeps it).
  [ "${LOCK_HELD:-0}" = 0 ] || return 0
  state_subdir "$state_dir/locks" || fail lock "$state_dir/locks is not a directory this run can create or use (a symbolic link?); refusing to lock in it"
  LOCK_FILE="$state_dir/locks/$CertName.lock"
  local rc=0
  open_lock 9 "$LOCK_FILE" || rc=$?
  case $rc in
    1) fail lock "$LOCK_FILE is a symbolic link or not a regular file; refusing to open it" ;;
    2) fail lock "$LOCK_FILE was replaced while it was being opened" ;;
    3) fail lock "could not open $LOCK_FILE" ;;
  esac
  if ! flock -n "$LOCK_FD"; then
    log "another run for $CertName is in progress on this node; waiting up to ${lock_seconds}s"
    flock -w "$lock_seconds" "$LOCK_FD" || fail lock "another run for $CertName held the lock for more than ${lock_seconds}s"
  fi
  LOCK_HELD=1
  # What was read before may be what the run that held the lock has changed since: read again under the lock.
  paths_changed
}
# The CertName lock without waiting and without failing the run (1: not taken), for a run that failed before
# it took the lock and records its failure: only once a preflight judged the directories (the lock lies in the
# state directory).
try_lock() {
  [ "${LOCK_HELD:-0}" = 0 ] || return 0
  [ "${DIRS_TRUSTED:-0}" = 1 ] && state_subdir "$state_dir/locks" || return 1
  LOCK_FILE="$state_dir/locks/$CertName.lock"
  if ! open_lock 9 "$LOCK_FILE"; then exec 9>&-; return 1; fi
  flock -n "$LOCK_FD" || return 1
  LOCK_HELD=1
  paths_changed
}
# A lock file (the CertName lock on fd 9, the inventory's on fd 8) is opened only when it is absent or a
# regular file, never through a symbolic link (>> would create or append to its target; a FIFO would block),
# and used only when the name still is the file opened. 1: refused, 2: replaced while it was being opened,
# 3: could not be opened (the caller closes the descriptor).
open_lock() { # 8|9 file
  regular_or_absent "$2" || return 1
  case $1 in 8) exec 8>>"$2" || return 3 ;; 9) exec 9>>"$2" || return 3 ;; esac
  [ ! -L "$2" ] && [ "/dev/fd/$1" -ef "$2" ] || return 2
}
# Absent, or a regular file (not a link to one).
regular_or_absent() { [ ! -L "$1" ] && { [ ! -e "$1" ] || [ -f "$1" ]; }; }
# A directory of the state directory this run writes in (locks, owned, inventory, removed): created when
# missing; never a symbolic link (whoever planted it would choose where records and locks go).
state_subdir() { # dir
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then (umask 022 && mkdir -p -- "$1") || return 1; fi
  [ -d "$1" ] && [ ! -L "$1" ]
}
