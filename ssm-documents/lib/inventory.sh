# shellcheck shell=bash
# The custom inventory entry of CertName (what the node holds and serves; never key material) and the
# tombstones of removed targets.
# What the node has installed and serves; never key material. Best effort: never changes the outcome.
INVENTORY_TYPE=AcmExportCertificate
# A field of this CertName's current fragment (identifiers, tokens and times only), read with builtins:
# fragment_get sets the variable named by its second argument, fragment_field prints the value.
fragment_get() { # name var
  local _t="" _r="\"$1\":\"([^\"]*)\""
  { IFS= read -r -d '' _t <"$state_dir/inventory/$CertName.json"; } 2>/dev/null || true
  if [[ $_t =~ $_r ]]; then printf -v "$2" '%s' "${BASH_REMATCH[1]}"; else printf -v "$2" '%s' ""; fi
}
fragment_field() { local value; fragment_get "$1" value; printf '%s' "$value"; }
# What another run of CertName rewrites when it installs, fails or removes (its inventory fragment, written only
# where there is an inventory directory, and its ownership record), as one text (SEEN): what a run compares
# before and after it takes the lock.
seen_state() {
  local fragment="" record=""
  { IFS= read -r -d '' fragment <"$state_dir/inventory/$CertName.json"; } 2>/dev/null || true
  { IFS= read -r -d '' record <"$OWNED"; } 2>/dev/null || true
  SEEN="$fragment"$'\n'"$record"
}
# Which secret version this node's live files hold for CertName, by its state (HELD_VERSION, HELD_SERIAL;
# empty when unknown): the last install run's entry, when it installed or confirmed a version of this
# SecretId and no report run has rewritten it since. The one place that reads it, so that another record of what was installed can replace it.
held_version() {
  local s l r c
  HELD_VERSION="" HELD_SERIAL=""
  fragment_get SecretId s
  fragment_get LastRun l
  fragment_get LastRunAt r
  fragment_get CheckedAt c
  # Written by that install run itself (a report run rewrites Serial from whatever the live file holds and
  # keeps LastRunAt): only then is Serial the serial installed from SecretVersionId.
  [ "$s" = "$SecretId" ] && [[ $l =~ ^(installed|unchanged)$ ]] && [ "$r" = "$c" ] || return 0
  fragment_get SecretVersionId HELD_VERSION
  fragment_get Serial HELD_SERIAL
}
# shellcheck disable=SC2154 # Target: a parameter of the programs that write an entry (install, report)
report_inventory() { # installed|unchanged|skipped|failed|report [step]
  [ "$REPORT_READY" = 1 ] || return 0
  # Only under the CertName lock: a run that failed before it took the lock (in its preflight, decrypt or
  # validate) takes it now without waiting; while another run holds it (a lock timeout) its entry is that run's.
  if [ "${LOCK_HELD:-0}" != 1 ] && ! { [ "$1" = failed ] && try_lock; }; then
    log "custom inventory not written: another run of $CertName holds the lock, or this run stopped before its directories were judged"
    return 0
  fi
  # A failed run of a target removed from this node (its files gone) does not bring its entry back, unless the
  # install's removal check found its version created after the removal (a new export: the target is back;
  # REMOVAL_CHECKED, under the lock). A run that failed before that check makes no AWS call to find out: it
  # writes nothing.
  local holder=""
  if [ "$1" = failed ] && [ "${REMOVAL_CHECKED:-0}" != 1 ] && ! live_member cert.pem && removed_at; then
    log "custom inventory not written: $CertName was removed from this node"
    return 0
  fi
  # A run for a CertName whose record names another secret (an install refused it, a report of that refused
  # target) leaves that target's entry alone; not a takeover of a name whose secret was deleted (NAME_RELEASED).
  if [ "$1" = failed ] || [ "$1" = report ]; then
    record_get SecretId holder
    if [ -n "$holder" ] && [ "$holder" != "$SecretId" ] && [ "${NAME_RELEASED:-0}" != 1 ]; then
      log "custom inventory not written: $CertName on this node holds the certificate of secret $holder"
      return 0
    fi
  fi
  if [ -z "$inventory_dir" ]; then
    log "custom inventory not written: no SSM Agent directory for this node (AWS_SSM_INSTANCE_ID unset or /var/lib/amazon/ssm/<id> missing)"
    return 0
  fi
  local status=$1 step=${2:-} serial="" not_after="" installed_at="" version=${SecretVersionId:-} verified=false
  local now run_at frag_dir="$state_dir/inventory" frag tmp rc=0
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  run_at=$now
  frag="$frag_dir/$CertName.json"
  # Through the verified current version only (lib/files.sh), never through a link it did not check. The run
  # may have read that very file already (LIVE_KNOWN: its path, LIVE_SERIAL, LIVE_NOT_AFTER): no second read.
  if live_member cert.pem; then
    path_info "$LM" || true
    if [ "${LIVE_KNOWN:-}" = "$LM $PI_INODE $PI_CTIME $PI_SIZE" ] && [ "$status" != failed ] && [ "$status" != skipped ]; then
      serial=$LIVE_SERIAL
      not_after=$LIVE_NOT_AFTER
    else
      recorded_leaf "$LM" || read_leaf "$LM"
      serial=$LEAF_SERIAL
      not_after=$LEAF_NOT_AFTER
    fi
    if path_info "$LM"; then TZ=UTC printf -v installed_at '%(%Y-%m-%dT%H:%M:%SZ)T' "${PI_MTIME%.*}"; fi
  fi
  serial_ok "$serial" || serial=""
  case $status in
    failed | skipped)
      # The live files are the previous ones: keep the version id recorded when they were installed.
      fragment_get SecretVersionId version ;;
    report)
      # A report is not an install run: the last install run's outcome stays as it was recorded.
      fragment_get SecretVersionId version
      fragment_get LastRun status
      fragment_get FailedStep step
      fragment_get LastRunAt run_at
      if [ "${VERIFIED:-false}" = true ]; then verified=true; fi ;;
    *) if [ "${VERIFIED:-false}" = true ]; then verified=true; fi ;;
  esac
  state_subdir "$frag_dir" || return 1
  if [ ! -d "$inventory_dir" ]; then (umask 022 && mkdir -p -- "$inventory_dir") || return 1; fi
  # A new name (noclobber), 0644 (umask 022 for this one file).
  tmp="$frag_dir/.$CertName.$$.$RANDOM$RANDOM"
  if [ -e "$tmp" ] || [ -L "$tmp" ]; then return 1; fi
  umask 022
  set -C
  json_obj CertName "$CertName" Target "$Target" SecretId "$SecretId" SecretVersionId "$version" Serial "$serial" \
    ServedSerial "$SERVED" NotAfter "$not_after" Verified "$verified" InstalledAt "$installed_at" LastRun "$status" \
    FailedStep "$step" LastRunAt "$run_at" CheckedAt "$now" Problem "$PROBLEM" Service "$Service" Node "$node_id" \
    >"$tmp" || rc=1
  set +C
  umask 077
  if [ "$rc" != 0 ]; then rm -f -- "$tmp"; return 1; fi
  mv -fT -- "$tmp" "$frag" || return 1
  assemble_inventory || return 1
  log "custom inventory: Custom:$INVENTORY_TYPE entry for $CertName written (${1})"
}
# The one file the agent reads: every CertName's fragment (none: an empty list, so removals show).
# Built by the shell under the inventory lock (fd 8, closed again before returning): the first line of each
# fragment, joined.
assemble_inventory() {
  local frag_dir="$state_dir/inventory" out f line content="" rc=0
  state_subdir "$frag_dir" || return 1
  if [ ! -d "$inventory_dir" ]; then (umask 022 && mkdir -p -- "$inventory_dir") || return 1; fi
  if ! open_lock 8 "$frag_dir/.lock" || ! flock -w 30 8; then exec 8>&-; return 1; fi
  for f in "$frag_dir"/*.json; do
    [ -f "$f" ] || continue
    line=""
    if IFS= read -r line <"$f" || [ -n "$line" ]; then content+=${content:+,}$line; fi
  done
  out="$inventory_dir/.$INVENTORY_TYPE.$$.$RANDOM$RANDOM"
  if [ -e "$out" ] || [ -L "$out" ]; then exec 8>&-; return 1; fi
  umask 022
  set -C
  printf '{"SchemaVersion":"1.0","TypeName":"Custom:%s","Content":[%s]}\n' "$INVENTORY_TYPE" "$content" >"$out" || rc=1
  set +C
  umask 077
  if [ "$rc" = 0 ] && mv -fT -- "$out" "$inventory_dir/$INVENTORY_TYPE.json"; then exec 8>&-; return 0; fi
  rm -f -- "$out"
  exec 8>&-
  return 1
}
report_or_warn() { report_inventory "$@" || log "warning: could not write the custom inventory"; }

# Tombstones of removed targets (see "Removed targets" in the header): STATE_DIR/removed/<CertName>.
tombstone_file() { printf '%s/removed/%s' "$state_dir" "$CertName"; }
# When CertName was removed from this secret on this node (REMOVED_AT, epoch seconds); fails when it was not.
removed_at() {
  local file="$state_dir/removed/$CertName" secret="" at=""
  REMOVED_AT=""
  [ -f "$file" ] && [ ! -L "$file" ] || return 1
  local text="" re_secret=$'(^|\n)SecretId=([^\n]*)' re_at=$'(^|\n)RemovedAt=([^\n]*)'
  IFS= read -r -d '' text <"$file" || true
  [[ $text =~ $re_secret ]] && secret=${BASH_REMATCH[2]}
  [[ $text =~ $re_at ]] && at=${BASH_REMATCH[2]}
  [ "$secret" = "$SecretId" ] && [[ $at =~ ^[0-9]{1,12}$ ]] || return 1
  REMOVED_AT=$at
}
record_removal() {
  local dir="$state_dir/removed" tmp
  state_subdir "$dir" || return 1
  tmp=$(mktemp -- "$dir/.$CertName.XXXXXXXX") || return 1
  if ! printf 'SecretId=%s\nRemovedAt=%s\n' "$SecretId" "$(date -u +%s)" >"$tmp" || ! chmod 0644 -- "$tmp" ||
    ! mv -fT -- "$tmp" "$dir/$CertName"; then
    rm -f -- "$tmp"
    return 1
  fi
}
