#!/usr/bin/env bash
# remove.sh: delete CertName's files from this node (the remove document's program, sent by DELETE
# .../targets/...?removeFiles=true). Reads no secret; takes the same lock as the install.
#
# Deletes every file an install of CertName writes (header "Files" of install.sh, whatever the profile)
# and their .prev copies, and the node's inventory entry, and leaves a tombstone (header "Removed
# targets"). Parameters: SSM_CertName SSM_SecretId (required), SSM_CertDir SSM_KeyDir SSM_Service; the other
# settings, the exit codes and the failure line are those of install.sh.
# Output: {"node","certName","action":"remove","removed":[paths],"changed":bool}.

# ---------------------------------------------------------------------------------------------------
# remove: delete every file an install of CertName writes, and their .prev copies, once the web
# server's configuration test passes without them (else everything is put back and the run fails at
# configtest: the server still uses them). Never reloads: a server whose configuration no longer names the
# files does not need them. Refuses when this node recorded CertName as installed from another secret.
# A removal stopped after it moved names aside (kill -9, a reboot) left them as rollback links: the next removal
# puts them back first and goes on as any removal, its configuration test included.
# The empty lock file stays (removing a lock another run may be waiting on would let two runs in at once).
remove_files() {
  STEP=lock
  take_lock
  STEP=install
  local owner m name d put_back=0
  local -a gone=()
  # The record names the secret; a node upgraded from the previous layout has only its inventory entry.
  owner=$(record_field SecretId)
  if [ -z "$owner" ] && [ ! -e "$OWNED" ]; then owner=$(fragment_field SecretId); fi
  if [ -n "$owner" ] && [ "$owner" != "$SecretId" ]; then
    fail install "$CertName on this node holds the certificate of secret $owner, not of $SecretId; nothing was removed"
  fi
  check_recorded_dirs remove
  # A removal killed after it moved names aside left them as rollback links: put back first, so that this run
  # moves them aside and tests the server without them as that one would have. A rollback link beside a name
  # that is there again (an install since) is only left over.
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    backup_of "$name"
    if ! [ -L "$BACKUP" ] || ! our_link "$BACKUP" "${LINK_TO[$m]}"; then continue; fi
    if [ -e "$name" ] || [ -L "$name" ]; then
      rm -f -- "$BACKUP"
    else
      mv -fT -- "$BACKUP" "$name" || fail install "could not put $name back from $BACKUP"
      log "put back $name, which a removal that was stopped had moved aside"
    fi
    put_back=1
  done
  if [ "$put_back" = 1 ]; then paths_changed; fi
  # Anything at a stable or .prev name that acm-export did not write is refused here, before any change.
  check_names remove
  if [ "$ADOPT" = 1 ]; then
    KEY_DIR_GROUP=""
    if (( 8#$(stat -c %a -- "$KeyDir") & 8#010 )); then KEY_DIR_GROUP=$(stat -c %G -- "$KeyDir"); fi
    adopt_legacy
  fi
  # An adoption a killed run left half done is finished first: its plain names become links, removed below.
  if [ "$ADOPT_LEFT" = 1 ]; then finish_adoption; fi
  # Move our stable links aside (kept as rollback names), then test the server without them.
  LIVE=()
  for m in "${ALL_MEMBERS[@]}"; do
    if our_link "${STABLE[$m]}" "${LINK_TO[$m]}"; then LIVE+=("${STABLE[$m]}"); fi
  done
  FILES_TOUCHED=1
  for name in "${LIVE[@]}"; do
    backup_of "$name"
    mv -fT -- "$name" "$BACKUP" || fail install "could not move $name aside"
    gone+=("$name")
  done
  paths_changed
  # Originals an install replaced (a takeover, or the previous layout's .prev files) go back to their names
  # first: the server may name them.
  put_back_originals
  if [ "${#gone[@]}" -gt 0 ] && [ "$Service" != none ]; then
    STEP=configtest
    service_configtest ||
      fail configtest "$Service configuration test fails without the files, so the server still uses them (point it at other files first): $(reason_line "$WORK/service.out")"
  fi
  # Recorded before anything is deleted: an install already in flight must find it (header: "Removed targets").
  record_removal || fail install "could not record the removal in $state_dir/removed; nothing was removed"
  STEP=finish
  for name in "${LIVE[@]}"; do backup_of "$name"; rm -f -- "$BACKUP"; done
  FILES_TOUCHED=0
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}.prev
    prev_target "${LINK_TO[$m]}"
    if our_link "$name" "$PT"; then rm -f -- "$name" && gone+=("$name"); fi
  done
  paths_changed
  for d in "$STORE" "$KSTORE"; do
    if our_dir "$d"; then rm -rf -- "$d"; paths_changed; fi
  done
  rmdir -- "$CertDir/.acm-export" "$KeyDir/.acm-export" 2>/dev/null || true
  rm -f -- "$OWNED"
  sync -- "$CertDir" "$KeyDir" 2>/dev/null || true
  # The node's inventory without CertName: also when a removal stopped between the two left the entry only
  # in the shared file.
  local listed=""
  if [ -n "$inventory_dir" ]; then
    { IFS= read -r -d '' listed <"$inventory_dir/$INVENTORY_TYPE.json"; } 2>/dev/null || true
  fi
  if [ -n "$inventory_dir" ] && { [ -e "$state_dir/inventory/$CertName.json" ] || [[ $listed == *"{\"CertName\":\"$CertName\","* ]]; }; then
    rm -f -- "$state_dir/inventory/$CertName.json"
    assemble_inventory || log "warning: could not write the custom inventory"
  fi
  local removed_json="" changed=false f
  for f in "${gone[@]}"; do removed_json="$removed_json${removed_json:+,}$(json_str "$f")"; done
  if [ "${#gone[@]}" -gt 0 ]; then changed=true; fi
  log "removed ${#gone[@]} file(s) of $CertName${gone[*]:+: ${gone[*]}}"
  json_obj node "${node_id:-$(uname -n)}" certName "$CertName" action remove @removed "[$removed_json]" @changed "$changed"
  exit 0
}

main() {
  set_traps
  UNDO=rollback
  # The document's parameters: read_params sets each from SSM_<Name>, else its default (tables in lib/params.sh).
  read_params "CertName SecretId" CertName SecretId CertDir KeyDir Service
  check_params
  set_paths
  set_store
  REPORT_READY=1
  STEP=preflight
  problems=()
  check_tools
  resolve_service
  check_service_tools
  check_dirs
  make_work_dir
  end_preflight
  remove_files
}

main "$@"
