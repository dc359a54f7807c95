# shellcheck shell=bash
# The live files of CertName: names refused before a change, rollback copies, and the rollback itself.
backup_of() { printf '%s/.%s.acm-export-rollback' "${1%/*}" "${1##*/}"; }

# A live name (or its rollback or .prev name) that is a symbolic link is refused, never written through,
# removed or silently replaced: the files acm-export owns are regular files in CertDir and KeyDir.
check_live_names() { # verb
  local dest name
  for dest in "${LIVE[@]}"; do
    for name in "$dest" "$(backup_of "$dest")" "$dest.prev"; do
      if [ -L "$name" ]; then fail install "$name is a symbolic link; refusing to $1 it (nothing was changed)"; fi
      if [ -e "$name" ] && [ ! -f "$name" ]; then fail install "$name is not a regular file; refusing to $1 it (nothing was changed)"; fi
    done
  done
}
# Staged files left by a run that was killed (e.g. at the step timeout) are removed under the lock.
remove_stale_staged() {
  local stale
  for stale in "$CertDir/.$CertName.acm-export."???????? "$KeyDir/.$CertName.acm-export."????????; do
    if [ -f "$stale" ]; then rm -f -- "$stale"; fi
  done
}


# Put the previous files back (or remove new files that had no predecessor). Returns non-zero if
# anything could not be restored.
restore_files() {
  local i dest backup ok=0
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    backup=$(backup_of "$dest")
    if [ -e "$backup" ] || [ -L "$backup" ]; then
      if [ "$backup" -ef "$dest" ]; then
        rm -f -- "$backup" || ok=1
      else
        mv -fT -- "$backup" "$dest" || ok=1
      fi
    elif [ "${RENAMED[$i]:-0}" = 1 ]; then
      rm -f -- "$dest" || ok=1
    fi
  done
  return "$ok"
}

# Undo whatever this run changed: files first, then the server if it was reloaded. Prints a suffix
# for the failure line.
rollback() {
  local note="" incomplete=0
  if [ "$FILES_TOUCHED" = 1 ]; then
    if restore_files; then
      note="; rolled back to the previous files"
    else
      note="; ROLLBACK INCOMPLETE: could not restore every previous file"
      incomplete=1
    fi
    sync -- "$CertDir" "$KeyDir" 2>/dev/null || true
    if [ "$RELOAD_ATTEMPTED" = 1 ] && [ "$Service" != none ]; then
      if service_configtest && service_reload; then
        note="$note and reloaded $Service"
        # A reload takes effect asynchronously: report failure only once the previous certificate is served again.
        if [ "$VerifyPort" != 0 ] && [ -f "$CERT_FILE" ] && ! wait_served "$(openssl x509 -in "$CERT_FILE" -noout -serial 2>/dev/null | sed 's/^serial=//')"; then
          note="$note; 127.0.0.1:$VerifyPort did not serve the previous certificate again within ${verify_seconds}s"
        fi
      else
        note="$note; ROLLBACK INCOMPLETE: reloading $Service with the previous files failed: $(reason_line "$WORK/service.out")"
        incomplete=1
      fi
    fi
  fi
  ROLLBACK_NOTE=$note
  return "$incomplete"
}
