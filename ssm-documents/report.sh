#!/usr/bin/env bash
# report.sh: re-read what this node holds and serves for CertName, and write it as the node's custom
# inventory (the report document's program, run by the per-target report association between installs so
# that the drift check sees files changed by hand). Reads no secret; takes the same lock as the install.
#
# Changes nothing: re-reads the live files (serial, from the ownership record while the certificate is the
# very file installed; a Problem when one is missing, the key does not match the certificate or the full
# chain is not leaf + chain) and the served serial, and rewrites the entry
# (CheckedAt, Problem; LastRun, LastRunAt, FailedStep and SecretVersionId stay those of the last install
# run). Parameters: SSM_CertName SSM_SecretId (required), SSM_CertDir SSM_KeyDir SSM_Pkcs12 SSM_CombinedPem
# (which files an install wrote), SSM_Service SSM_Target (reported), SSM_VerifyPort (0: no served check);
# the other settings, the exit codes and the failure line are those of install.sh.
# Output: {"node","certName","action":"report","serial","servedSerial","problem"} (exit 0 whatever it found).

# ---------------------------------------------------------------------------------------------------
# report: what this node holds and serves for CertName, as custom inventory. Changes no file and
# reloads nothing; the last install run's outcome (LastRun, LastRunAt, FailedStep, SecretVersionId) stays.
report_node() {
  STEP=lock
  take_lock
  STEP=finish
  local m name sni present=0 live_cert="" live_key="" live_chain="" live_full=""
  local -a missing=()
  # Through the stable links acm-export created and the verified current version (lib/files.sh) only.
  for m in "${MEMBERS[@]}"; do
    name=${STABLE[$m]}
    name_state "$name" "${LINK_TO[$m]}"
    case $NS in
      ours)
        present=1
        live_member "$m" || missing+=("$name") ;;
      absent) missing+=("$name") ;;
      *)
        PROBLEM=${PROBLEM:-"$name is not a file acm-export installed"}
        present=1 ;;
    esac
  done
  if [ "$present" = 0 ]; then
    PROBLEM="not installed"
  elif [ "${#missing[@]}" -gt 0 ]; then
    PROBLEM=${PROBLEM:-"missing ${missing[*]}"}
  fi
  local serial="" key_pub="" cert="" chain="" fullchain="" key_ok=0
  # The certificate as the install that wrote it read it, when it is still that very file (the record);
  # else one openssl call reads it (serial, names, public key). Files are compared with builtins.
  LEAF_NAMES=()
  if live_member cert.pem; then
    live_cert=$LM
    if ! recorded_leaf "$live_cert"; then
      read_leaf "$live_cert"
      if [ -z "$LEAF_SERIAL" ]; then fail_if_openssl_too_old; fi
    fi
    serial=$LEAF_SERIAL
    serial_ok "$serial" || serial=""
    # The inventory entry below reads the same file: no second openssl call.
    if path_info "$live_cert"; then LIVE_KNOWN="$live_cert $PI_INODE $PI_CTIME $PI_SIZE" LIVE_SERIAL=$serial LIVE_NOT_AFTER=$LEAF_NOT_AFTER; fi
  fi
  if [ -z "$PROBLEM" ]; then
    live_member chain.pem || true
    live_chain=$LM
    live_member fullchain.pem || true
    live_full=$LM
    live_member key.pem || true
    live_key=$LM
    # The set must be consistent: the key belongs to the certificate (proven by the record when both are the
    # files installed together, else by openssl), the full chain is leaf + chain.
    if [ -n "$serial" ] && recorded_pair "$live_cert" "$live_key"; then
      key_ok=1
    else
      # A key not proven by the record: the certificate's public key is needed (not in the record).
      if [ -z "$LEAF_PUB" ] && [ -n "$serial" ]; then read_leaf "$live_cert"; fi
      # No work directory in a report (two processes less): the public key read by a command substitution,
      # its final newline put back.
      key_pub=$(exec openssl pkey -in "$live_key" -pubout 2>/dev/null) || key_pub=""
      key_pub=${key_pub:+$key_pub$'\n'}
      if [ -n "$key_pub" ] && [ "$key_pub" = "$LEAF_PUB" ]; then key_ok=1; fi
    fi
    IFS= read -r -d '' cert <"$live_cert" || true
    IFS= read -r -d '' chain <"$live_chain" || true
    IFS= read -r -d '' fullchain <"$live_full" || true
    if [ -z "$serial" ]; then
      PROBLEM="$CERT_FILE is not a certificate"
    elif [ "$key_ok" != 1 ]; then
      PROBLEM="the key does not match the certificate"
    elif [ "$fullchain" != "$cert$chain" ]; then
      PROBLEM="$FULLCHAIN_FILE is not the certificate followed by the chain"
    fi
  fi
  VERIFIED=false
  if [ "$VerifyPort" != 0 ] && [ -n "$serial" ]; then
    sni=${LEAF_NAMES[0]:-}
    dns_name_ok "$sni" || sni=localhost
    sni_for "$sni"
    SERVED=$(served_serial)
    serial_ok "$SERVED" || SERVED=""
    if [ "$SERVED" = "$serial" ]; then VERIFIED=true; fi
  fi
  if [ "$present" = 0 ] && removed_at; then
    log "report: $CertName was removed from this node; no inventory entry written"
  else
    report_or_warn report
  fi
  log "report: $CertName holds serial ${serial:-none}${SERVED:+, 127.0.0.1:$VerifyPort serves $SERVED}${PROBLEM:+; problem: $PROBLEM}"
  json_obj node "${node_id:-$HOSTNAME}" certName "$CertName" action report serial "$serial" servedSerial "$SERVED" \
    problem "$PROBLEM"
  exit 0
}

main() {
  set_traps
  # The document's parameters: read_params sets each from SSM_<Name>, else its default (tables in lib/params.sh).
  read_params "CertName SecretId" CertName SecretId CertDir KeyDir Service VerifyPort Pkcs12 CombinedPem Target
  check_params
  set_paths
  set_store
  REPORT_READY=1
  STEP=preflight
  problems=()
  check_tools
  check_dirs
  # No work directory (a report writes no temp file): only the cleanup of those killed runs left.
  [ "${#problems[@]}" -gt 0 ] || clean_work_dirs
  end_preflight
  report_node
}

main "$@"
