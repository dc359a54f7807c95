# shellcheck shell=bash
# The install program's steps (header of install.sh): its preflight checks, the fetch of the secret version,
# and install_certificate, the run from the store's paths to the result line. Part of the node library: the
# install document does not embed this file; lib/library.sh fetches it with lib/files.sh and the rest of the
# library, checks its sha256 and sources it once the parameters are checked.
# Preflight checks only an install makes: the AWS CLI that reads the secret, and the accounts that will own
# the files. The CLI's version is asked only when the run fails anyway or an aws call failed (a process less
# on every run; the preflight document reports it).
check_aws_cli() {
  command -v aws >/dev/null 2>&1 || problems+=("AWS CLI v2 is not installed (aws not found on PATH)")
}
check_aws_version() {
  command -v aws >/dev/null 2>&1 || return 0
  [[ $(aws --version 2>&1 </dev/null) =~ ^aws-cli/2\. ]] ||
    problems+=("AWS CLI v2 is required (aws --version does not report aws-cli/2)")
}
check_accounts() {
  local name
  for name in KeyGroup CertGroup; do
    if [ -n "${!name}" ] && ! getent group "${!name}" >/dev/null 2>&1; then
      problems+=("$name ${!name} does not exist on this node")
    fi
  done
  for name in KeyOwner CertOwner; do
    if [ -n "${!name}" ]; then
      if ! getent passwd "${!name}" >/dev/null 2>&1; then
        problems+=("$name ${!name} does not exist on this node")
      elif [ "$IS_ROOT" != 1 ] && [ "$(id -u "${!name}")" != "$(id -u)" ]; then
        problems+=("$name ${!name} needs the script to run as root")
      fi
    fi
  done
}
# Association mode: the version id holding the stage (SecretVersionId), by DescribeSecret's VersionIdsToStages
# (metadata only: no secret value, no KMS decrypt), or by GetSecretValue of the stage (by=value: a node role
# without DescribeSecret). Fails when the call or its answer gives no version id.
resolve_stage() { # describe|value
  local text re
  if [ "$1" = describe ]; then
    aws secretsmanager describe-secret --region "$Region" --secret-id "$SecretId" --query VersionIdsToStages --output json
    # The version whose list of stages holds the stage (a list never spans a ']').
    re='"([0-9a-f-]{36})" *: *\[[^]]*"'"$SecretVersionStage"'"'
  else
    aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" --version-stage "$SecretVersionStage" --output json
    re='"VersionId": *"([0-9a-f-]{36})"'
  fi >"$WORK/stage.json" 2>"$WORK/aws.err" </dev/null || return 1
  IFS= read -r -d '' text <"$WORK/stage.json" || true
  [[ ${text//$'\n'/ } =~ $re ]] || return 1
  SecretVersionId=${BASH_REMATCH[1]}
}

# An association run asks again under the lock which version holds its stage when another run of CertName wrote
# its inventory entry or its record since it first asked (it waited for that run, or ran beside it). When the
# stage moved on meanwhile (a renewal, whose push may be that run), the version it read is no longer the one to
# install, and the run skips (SKIPPED). The version this run read stays its SecretVersionId.
stage_moved() {
  local read=$SecretVersionId
  [ -n "$SecretVersionStage" ] || return 0
  seen_state
  [ "$SEEN" != "${STAGE_SEEN-}" ] || return 0
  if resolve_stage describe || resolve_stage value; then
    if [ "$SecretVersionId" != "$read" ]; then
      SKIPPED="$SecretVersionStage moved on while this run waited"
      log "skipped: $SecretVersionStage is version $SecretVersionId now, not $read as when this run started, and another run of $CertName changed this node since; the version $SecretVersionStage names now is installed by its own run; nothing written, nothing reloaded"
    fi
  else
    log "warning: could not ask again under the lock which version $SecretVersionStage names: $(one_line "$WORK/aws.err"); installing version $read"
  fi
  SecretVersionId=$read
}

# Reads the secret version into WORK/secret. Association mode resolves the stage first; when this node
# already holds that version (held_version), the fetch waits for the unchanged check under the lock
# (UNCHANGED_CANDIDATE=1) and may never happen.
fetch_secret() {
  if [ "${#problems[@]}" -gt 0 ]; then check_aws_version; return 0; fi
  if [ -n "$SecretVersionStage" ]; then
    # The entry and the record as they are before the stage is read (stage_moved compares them under the lock).
    seen_state
    STAGE_SEEN=$SEEN
    if resolve_stage describe; then
      held_version
      if [ "$HELD_VERSION" = "$SecretVersionId" ]; then UNCHANGED_CANDIDATE=1; return 0; fi
    else
      if [[ $(<"$WORK/aws.err") == *AccessDenied* ]]; then
        log "warning: DescribeSecret was denied (older node policy?); using GetSecretValue"
      fi
      if ! resolve_stage value; then
        problems+=("cannot read the $SecretVersionStage version of the secret: $(one_line "$WORK/aws.err")")
        check_aws_version
        return 0
      fi
    fi
  fi
  read_secret_version
}
read_secret_version() {
  [ "${#problems[@]}" -eq 0 ] || return 0
  if ! aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" \
    --version-id "$SecretVersionId" --query SecretString --output text \
    >"$WORK/secret" 2>"$WORK/aws.err" </dev/null; then
    problems+=("cannot read the secret version: $(one_line "$WORK/aws.err")")
    check_aws_version
  elif [ ! -s "$WORK/secret" ]; then
    problems+=("the secret version has no SecretString")
  fi
}

# A chain longer than any real one, or a certificate given twice, is refused before openssl reads it: each
# link costs a verify call, and a repeated intermediate would pass the link-by-link check.
MAX_CHAIN=10
# What is wrong with the chain's shape (CHAIN_PROBLEM; empty: nothing); validate fails the run with it.
chain_problem() {
  local i pem
  local -A seen=()
  CHAIN_PROBLEM=""
  if [ "$((n_cert - 1))" -gt "$MAX_CHAIN" ]; then
    CHAIN_PROBLEM="the chain holds $((n_cert - 1)) certificates; at most $MAX_CHAIN are accepted"
    return 0
  fi
  for ((i = 1; i <= n_cert; i++)); do
    IFS= read -r -d '' pem <"$WORK/cert$i.pem" || true
    if [ -n "${seen[$pem]:-}" ]; then
      CHAIN_PROBLEM="certificate $i of the secret repeats certificate ${seen[$pem]}"
      return 0
    fi
    seen[$pem]=$i
  done
}
# The reads of the certificates need no key: started in the background before the key is decrypted (each
# openssl call is a process of its own, so they run beside the decrypt on another CPU) and judged in
# validate, in the order the checks were always made. LEAF_JOB reads the leaf (x509_leaf, into
# WORK/leaf.txt); VERIFY_JOBS[i] checks that certificate i+1 issued certificate i (WORK/verify<i>.out).
# The chain's shape is judged first (CHAIN_PROBLEM): a chain validate refuses is not read. on_exit waits for the
# jobs before removing WORK.
declare -a VERIFY_JOBS=()
start_certificate_reads() {
  local i
  x509_leaf "$LEAF" >"$WORK/leaf.txt" &
  LEAF_JOB=$!
  CHAIN_PROBLEM=""
  [ "$n_cert" -ge 2 ] || return 0
  chain_problem
  [ -z "$CHAIN_PROBLEM" ] || return 0
  for ((i = 1; i < n_cert; i++)); do
    openssl verify -no-CAfile -no-CApath -partial_chain -trusted "$WORK/cert$((i + 1)).pem" "$WORK/cert$i.pem" \
      >"$WORK/verify$i.out" 2>&1 &
    VERIFY_JOBS[i]=$!
  done
}
# The leaf read started by start_certificate_reads (the LEAF_* variables, as read_leaf sets them).
finish_leaf_read() {
  local status=0 out=""
  wait "$LEAF_JOB" || status=$?
  { IFS= read -r -d '' out <"$WORK/leaf.txt"; } 2>/dev/null || true
  parse_leaf "$out" "$status"
}

# A passphrase file: one line of 4 to 128 URL-safe base64 characters (builtins only).
# Here and below, a large bounded repeat ({4,128}) is a length check beside the pattern: bash compiles a pattern
# at every use, and a bound of N costs N copies of its atom (about a millisecond for the larger ones).
one_token() { # file
  local text=""
  IFS= read -r -d '' text <"$1" || true
  text=${text%$'\n'}
  [[ $text =~ ^[A-Za-z0-9_-]+$ && ${#text} -ge 4 && ${#text} -le 128 ]]
}
# Whether the installed certificate (LEAF_NAMES) names the same set of DNS names as the new one (NAMES).
same_names() {
  local n
  local -A new_names=() live_names=()
  for n in "${NAMES[@]}"; do new_names[$n]=1; done
  for n in "${LEAF_NAMES[@]}"; do live_names[$n]=1; done
  [ "${#new_names[@]}" = "${#live_names[@]}" ] || return 1
  for n in "${!new_names[@]}"; do [ -n "${live_names[$n]:-}" ] || return 1; done
}

# When Secrets Manager created SecretVersionId (epoch seconds; the CLI prints ISO 8601 or epoch seconds).
version_created_at() {
  local raw
  aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" --version-id "$SecretVersionId" \
    --output json >"$WORK/version.json" 2>"$WORK/aws.err" </dev/null || { rm -f -- "$WORK/version.json"; return 1; }
  raw=$(grep -Eo '"CreatedDate": *("[^"]{1,40}"|[0-9]{1,12}(\.[0-9]+)?)' "$WORK/version.json" | head -n1 | sed -E 's/^"CreatedDate": *//; s/"//g' || true)
  rm -f -- "$WORK/version.json"
  if [[ $raw =~ ^[0-9]{1,12}(\.[0-9]+)?$ ]]; then printf '%s' "${raw%%.*}"; return 0; fi
  [[ $raw =~ ^[0-9T:.+Z\ -]+$ ]] && date -u -d "$raw" +%s 2>/dev/null
}

# Whether CertName's record may pass from secret $1 to SecretId: only where POST /exports frees the name,
# i.e. $1 is a secret of this target (same prefix and target hash; AWS's 6-character suffix aside) and
# its target was deleted (DeletedDate set, or the secret gone). One DescribeSecret, only in this case.
holder_released() { # recorded SecretId
  local mine=${SecretId%-??????} held=${1%-??????} out
  [ "${mine%/*/*}" = "${held%/*/*}" ] && [ "${mine##*/}" = "${held##*/}" ] && [[ ${held##*/} =~ ^[0-9a-f]{16}$ ]] || return 1
  if out=$(aws secretsmanager describe-secret --region "$Region" --secret-id "$1" --query DeletedDate --output text 2>"$WORK/aws.err" </dev/null); then
    [ -n "$out" ] && [ "$out" != None ]
  else
    [[ $(<"$WORK/aws.err") == *'(ResourceNotFoundException)'* ]]
  fi
}

epoch_iso() { date -u -d "@$1" '+%Y-%m-%dT%H:%M:%SZ'; } # epoch seconds

make_dir() { # dir mode [group]
  if [ ! -d "$1" ]; then
    (umask 022 && mkdir -p -- "$1")
    [ ! -L "$1" ] || fail install "$1 turned into a symbolic link while it was being created"
    if [ -n "${3:-}" ]; then chgrp -h -- "$3" "$1"; fi
    chmod "$2" -- "$1"
    paths_changed
    log "created $1"
  fi
}

# Who owns what: root (or, when not run as root, the current user) unless the profile names someone. Sets
# the variable named by the second argument (no process unless the profile names an account).
uid_of() { # account var
  if [ -n "$1" ]; then printf -v "$2" '%s' "$(id -u "$1")"; else printf -v "$2" '%s' "$MY_UID"; fi
}
gid_of() { # group var
  local entry
  if [ -n "$1" ]; then
    entry=$(getent group "$1") || entry=""
    entry=${entry#*:*:}
    printf -v "$2" '%s' "${entry%%:*}"
  elif [ "$IS_ROOT" = 1 ]; then printf -v "$2" 0
  else printf -v "$2" '%s' "${GROUPS[0]}"; fi
}

# A PKCS#12 file is never byte-identical twice (random salts), so it matches when it opens with the
# passphrase and holds this leaf and a key for it.
p12_matches() { # file
  openssl pkcs12 -in "$1" -passin fd:3 -nokeys -clcerts -out "$WORK/p12.crt" 3<"$WORK/pfxpass" 2>/dev/null &&
    openssl pkcs12 -in "$1" -passin fd:3 -nocerts -nodes -out "$WORK/p12.key" 3<"$WORK/pfxpass" 2>/dev/null &&
    [ "$(openssl x509 -in "$WORK/p12.crt" -noout -fingerprint -sha256 2>/dev/null)" = \
      "$(openssl x509 -in "$LEAF" -noout -fingerprint -sha256 2>/dev/null)" ] &&
    [ "$(openssl pkey -in "$WORK/p12.key" -pubout 2>/dev/null)" = "$(<"$WORK/cert.pub")" ]
}

# What differs from the desired state (empty: nothing): the current version's members (content, owner,
# group, mode), the stable links, and the served serial.
# Sets DRIFT.
out_of_sync() {
  local i m v name dest want have
  DRIFT=""
  store_version current || { DRIFT="$CertName is not installed"; return 0; }
  v=$SV
  for i in "${!MEMBERS[@]}"; do
    m=${MEMBERS[$i]}
    name=${STABLE[$m]}
    if ! our_link "$name" "${LINK_TO[$m]}" || ! member_ok "$v" "$m"; then DRIFT="$name is missing"; return 0; fi
    member_path "$v" "$m"
    dest=$MP
    path_info "$dest" || { DRIFT="$name is missing"; return 0; }
    local identity="$dest $PI_INODE $PI_CTIME $PI_SIZE"
    if [ "$PI_UID:$PI_GID:$PI_MODE" != "${OWN[$i]}:${MODE[$i]#0}" ]; then DRIFT="$name has another owner, group or mode"; return 0; fi
    if [ "$m" = bundle.p12 ]; then
      p12_matches "$dest" || { DRIFT="$name does not hold this certificate and key"; return 0; }
    else
      # Text members compared by the shell: same size and same bytes (a NUL would stop read short of the size).
      want="" have=""
      { IFS= read -r -d '' want <"${SRC[$i]}"; } 2>/dev/null || true
      { IFS= read -r -d '' have <"$dest"; } 2>/dev/null || true
      if [ "$PI_SIZE" != "${#want}" ] || [ "$want" != "$have" ]; then DRIFT="$name differs"; return 0; fi
      # The live certificate is this leaf: the inventory need not read it again.
      if [ "$m" = cert.pem ]; then LIVE_KNOWN=$identity LIVE_SERIAL=$SERIAL LIVE_NOT_AFTER=$NOT_AFTER; fi
    fi
  done
  if [ "$VerifyPort" != 0 ]; then
    SERVED=$(served_serial)
    if [ "$SERVED" != "$SERIAL" ]; then DRIFT="127.0.0.1:$VerifyPort serves ${SERVED:-no certificate}, not $SERIAL"; return 0; fi
  fi
}

# The result line on stdout (see "Output" in the header).
print_result() {
  local n names="" files=(cert "$CERT_FILE" chain "$CHAIN_FILE" fullchain "$FULLCHAIN_FILE" key "$KEY_FILE") skipped=()
  local files_json="" i
  for n in "${NAMES[@]}"; do json_quote "$n"; names+=${names:+,}$JQ; done
  if [ "$CombinedPem" = true ]; then files+=(combined "$COMBINED_FILE"); fi
  if [ "$Pkcs12" = true ]; then files+=(pkcs12 "$P12_FILE"); fi
  for ((i = 0; i < ${#files[@]}; i += 2)); do json_quote "${files[i + 1]}"; files_json+="${files_json:+,}\"${files[i]}\":$JQ"; done
  if [ -n "$SKIPPED" ]; then
    skipped=(skipped "$SKIPPED")
    if [ -n "$INSTALLED_SERIAL" ]; then
      skipped+=(installedSerial "$INSTALLED_SERIAL" installedNotAfter "$INSTALLED_NOT_AFTER")
    fi
  fi
  json_obj node "${node_id:-$HOSTNAME}" certName "$CertName" serial "$SERIAL" notAfter "$NOT_AFTER" @names "[$names]" \
    @files "{$files_json}" service "$Service" requestedService "$RequestedService" @reloaded "$RELOADED" \
    @verified "$VERIFIED" @changed "$CHANGED" secretVersionId "$SecretVersionId" "${skipped[@]}"
}

# The owners the live files must have (uid and gid numbers).
set_owners() {
  uid_of "$CertOwner" CERT_UID
  gid_of "$CertGroup" CERT_GID
  uid_of "$KeyOwner" KEY_UID
  gid_of "$KeyGroup" KEY_GID
}

# Association run on a node whose state says it holds the AWSCURRENT version (fetch_secret): the live set is
# that version, intact and served, so nothing is fetched or decrypted. Checked without the secret: every live
# file is a regular file with its owner, group and mode, the certificate has the recorded serial and has not
# expired, the key matches it, the full chain (and the combined file) is made of the live parts, no rollback
# copy of an interrupted run is left, and VerifyPort serves the serial. Any doubt (a PKCS#12 bundle, which
# only the secret's passphrase opens, included) returns 1: the caller takes the full path.
live_set_unchanged() {
  local m f want cert="" chain="" fullchain="" key="" combined="" key_pub="" files=() pair_recorded
  [ "$Pkcs12" != true ] && [ -n "${LOCK_FILE:-}" ] || return 1
  set_owners
  # Every stable name is our link, and every member of the verified current version has its owner and mode.
  for m in "${MEMBERS[@]}"; do
    our_link "${STABLE[$m]}" "${LINK_TO[$m]}" && live_member "$m" || return 1
    f=$LM
    files+=("$f")
    if key_side "$m"; then want="$KEY_UID:$KEY_GID:${KeyMode#0}"; else want="$CERT_UID:$CERT_GID:${CertMode#0}"; fi
    path_info "$f" && [ "$PI_UID:$PI_GID:$PI_MODE" = "$want" ] || return 1
  done
  # The certificate and the key are the very files checked at install (the record): the certificate as read
  # then, and the key matches it. Else both are read by openssl.
  if recorded_pair "${files[0]}" "${files[3]}" && recorded_leaf "${files[0]}"; then
    pair_recorded=1
  else
    pair_recorded=0
    read_leaf "${files[0]}"
  fi
  if path_info "${files[0]}"; then LIVE_KNOWN="${files[0]} $PI_INODE $PI_CTIME $PI_SIZE" LIVE_SERIAL=$LEAF_SERIAL LIVE_NOT_AFTER=$LEAF_NOT_AFTER; fi
  [ "$LEAF_SERIAL" = "$HELD_SERIAL" ] && [ -n "$LEAF_SERIAL$LEAF_NOT_AFTER" ] && [ "$LEAF_EXPIRED" = 0 ] && [ -n "${LEAF_NAMES[0]:-}" ] || return 1
  if [ "$pair_recorded" = 1 ]; then
    key_pub=$LEAF_PUB
  else
    openssl pkey -in "${files[3]}" -pubout -out "$WORK/key.pub" 2>/dev/null || return 1
    IFS= read -r -d '' key_pub <"$WORK/key.pub" || true
    [ -n "$key_pub" ] || return 1
  fi
  IFS= read -r -d '' cert <"${files[0]}" || true
  IFS= read -r -d '' chain <"${files[1]}" || true
  IFS= read -r -d '' fullchain <"${files[2]}" || true
  IFS= read -r -d '' key <"${files[3]}" || true
  if [ "$CombinedPem" = true ]; then IFS= read -r -d '' combined <"${files[4]}" || true; fi
  [ "$key_pub" = "$LEAF_PUB" ] && [ -n "$chain" ] && [ "$fullchain" = "$cert$chain" ] || return 1
  [ "$CombinedPem" != true ] || [ "$combined" = "$key$fullchain" ] || return 1
  if [ "$VerifyPort" != 0 ]; then
    sni_for "${LEAF_NAMES[0]}"
    SERVED=$(served_serial)
    [ "$SERVED" = "$LEAF_SERIAL" ] || return 1
  fi
}

# The unchanged association run: the check above under the lock, then the result; otherwise (any doubt) the
# secret is read now and the run goes on as any install.
unchanged_or_fetch() {
  STEP=lock
  take_lock
  STEP=install
  # Which version this node holds, read again under the lock: the run that held it may have installed
  # another version, or another secret's, or removed the target.
  held_version
  if [ "$HELD_VERSION" = "$SecretVersionId" ] && ! switch_pending && live_set_unchanged; then
    SERIAL=$LEAF_SERIAL NOT_AFTER=$LEAF_NOT_AFTER NAMES=("${LEAF_NAMES[@]}")
    CHANGED=false RELOADED=false VERIFIED=false SKIPPED="" INSTALLED_SERIAL="" STEP=finish
    if [ "$VerifyPort" != 0 ]; then VERIFIED=true; fi
    log "unchanged: version $SecretVersionId (serial $SERIAL) installed and intact; secret not read"
    report_or_warn unchanged
    print_result
    exit 0
  fi
  log "live files not intact for version $SecretVersionId; reading the secret"
  STEP=preflight
  read_secret_version
  end_preflight
}

# The run after the node library is loaded: preflight, decrypt, validate, install, configtest, reload,
# hooks, verify, finish.
install_certificate() {
  set_store
  if [ -z "$KeyMode" ]; then
    if [ -n "$KeyGroup" ]; then KeyMode=0640; else KeyMode=0600; fi
  fi
  REPORT_READY=1

  # ---------------------------------------------------------------------------------------------------
  STEP=preflight
  problems=()
  check_tools
  check_aws_cli
  resolve_service
  check_service_tools
  check_accounts
  check_dirs
  fetch_secret
  end_preflight
  if [ "${UNCHANGED_CANDIDATE:-0}" = 1 ]; then unchanged_or_fetch; fi
  log "preflight ok: secret version $SecretVersionId read for $CertName"

  # ---------------------------------------------------------------------------------------------------
  # decrypt: split the PEM blocks, check the passphrase shape, decrypt the key (passphrase via fd 3).
  STEP=decrypt
  counts=$(awk -v dir="$WORK" '
    { sub(/\r$/, "") }
    /^-----BEGIN [A-Z0-9 ]+-----$/ {
      if (label != "") bad = 1
      label = substr($0, 12, length($0) - 16); body = ""; next
    }
    /^-----END [A-Z0-9 ]+-----$/ {
      if (substr($0, 10, length($0) - 14) != label) { bad = 1; label = ""; next }
      if (label == "ACM EXPORT PASSPHRASE") { np++; f = dir "/pass"; printf "%s", body > f; close(f) }
      else if (label == "ACM EXPORT PFX PASSPHRASE") { npfx++; f = dir "/pfxpass"; printf "%s", body > f; close(f) }
      else if (label == "CERTIFICATE") { nc++; f = dir "/cert" nc ".pem"; printf "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n", body > f; close(f) }
      else if (label == "ENCRYPTED PRIVATE KEY") { nk++; f = dir "/key.enc.pem"; printf "-----BEGIN ENCRYPTED PRIVATE KEY-----\n%s-----END ENCRYPTED PRIVATE KEY-----\n", body > f; close(f) }
      else other++
      label = ""; next
    }
    label != "" { body = body $0 "\n" }
    END { printf "%d %d %d %d %d %d\n", np, nc, nk, other, bad + (label != ""), npfx }
  ' "$WORK/secret")
  # Six counts (digits) split by the default IFS.
  # shellcheck disable=SC2206
  local -a pem_counts=($counts)
  n_pass=${pem_counts[0]-} n_cert=${pem_counts[1]-} n_key=${pem_counts[2]-} n_other=${pem_counts[3]-}
  n_bad=${pem_counts[4]-} n_pfx=${pem_counts[5]-}
  if [ "$n_pass" != 1 ] || [ "$n_key" != 1 ] || [ "$n_cert" -lt 1 ] || [ "$n_other" != 0 ] || [ "$n_bad" != 0 ] || [ "$n_pfx" -gt 1 ]; then
    fail decrypt "the secret is not in the acm-export format (found $n_pass passphrase, $n_cert certificate, $n_key encrypted key, $n_other other and $n_bad malformed PEM blocks)"
  fi
  if ! one_token "$WORK/pass"; then
    fail decrypt "the passphrase block of the secret is malformed"
  fi
  if [ "$Pkcs12" = true ]; then
    if [ "$n_pfx" != 1 ]; then
      fail decrypt "Pkcs12=true but secret version $SecretVersionId holds no PFX passphrase; export again with Pkcs12 enabled for this target"
    fi
    if ! one_token "$WORK/pfxpass"; then
      fail decrypt "the PFX passphrase block of the secret is malformed"
    fi
  fi
  LEAF="$WORK/cert1.pem"
  start_certificate_reads
  # pkcs8, not pkey: it reads only an EncryptedPrivateKeyInfo, so a plain key put under the ENCRYPTED label
  # (which pkey would take without the passphrase) is refused.
  if ! openssl pkcs8 -in "$WORK/key.enc.pem" -passin fd:3 -out "$WORK/key.pem" 3<"$WORK/pass" 2>"$WORK/openssl.err"; then
    fail decrypt "could not decrypt the private key with the passphrase stored beside it (wrong passphrase, damaged key, or a key block that is not an encrypted PKCS#8 key)"
  fi

  # ---------------------------------------------------------------------------------------------------
  # validate: before any live file is touched.
  STEP=validate
  if [ "$n_cert" -lt 2 ]; then fail validate "the secret holds no certificate chain"; fi
  if [ -n "$CHAIN_PROBLEM" ]; then fail validate "$CHAIN_PROBLEM"; fi
  # One openssl call for the leaf: serial, notAfter, names, public key, and (exit status) not expired.
  finish_leaf_read
  SERIAL=$LEAF_SERIAL
  not_after_raw=$LEAF_NOT_AFTER_RAW
  if [ -z "$SERIAL" ] || [ -z "$not_after_raw" ]; then
    fail validate "the first certificate block of the secret is not a valid X.509 certificate"
  fi
  serial_ok "$SERIAL" || fail validate "unexpected serial number format"
  printf '%s' "$LEAF_PUB" >"$WORK/cert.pub"
  openssl pkey -in "$WORK/key.pem" -pubout -out "$WORK/key.pub" 2>/dev/null || : >"$WORK/key.pub"
  key_pub=""
  { IFS= read -r -d '' key_pub <"$WORK/key.pub"; } 2>/dev/null || true
  if [ -z "$key_pub" ] || [ "$key_pub" != "$LEAF_PUB" ]; then
    fail validate "the private key does not match the certificate"
  fi
  if [ "$LEAF_EXPIRED" = 1 ]; then
    fail validate "the certificate has expired ($not_after_raw)"
  fi
  for ((i = 1; i < n_cert; i++)); do
    if ! wait "${VERIFY_JOBS[i]}"; then
      fail validate "the chain is not in order or does not verify: certificate $((i + 1)) did not issue certificate $i ($(one_line "$WORK/verify$i.out" 2))"
    fi
  done
  NOT_AFTER=${LEAF_NOT_AFTER:-$not_after_raw}
  [[ $NOT_AFTER =~ ^[A-Za-z0-9:\ -]+$ ]] || fail validate "unexpected notAfter format"
  NAMES=("${LEAF_NAMES[@]}")
  if [ "${#NAMES[@]}" -eq 0 ]; then fail validate "the certificate names no DNS name"; fi
  for n in "${NAMES[@]}"; do
    dns_name_ok "$n" || fail validate "the certificate holds a name that is not a DNS name"
  done
  log "validated $CertName: serial $SERIAL, not after $NOT_AFTER, ${#NAMES[@]} name(s), chain of $((n_cert - 1))"

  # ---------------------------------------------------------------------------------------------------
  # install: under the lock, compare the live files with the new set (nothing to do when they match);
  # otherwise stage every file beside the live one, keep the old ones and rename into place.
  STEP=install
  set_owners
  key_dir_group=$KeyGroup
  if [ -z "$key_dir_group" ] && [ -n "$KeyOwner" ]; then key_dir_group=$(id -gn "$KeyOwner"); fi
  make_dir "$CertDir" 0755
  if [ -n "$key_dir_group" ]; then make_dir "$KeyDir" 0710 "$key_dir_group"; else make_dir "$KeyDir" 0700; fi

  STEP=lock
  take_lock

  STEP=install
  # A run that was in flight when this target was removed here installs nothing (header: "Removed targets").
  SKIPPED=""
  REMOVED_AT=""
  REMOVAL_CHECKED=1
  if removed_at; then
    # Not recorded as a failed install either: that would bring the removed entry back into the inventory.
    REPORT_READY=0
    created_at=$(version_created_at) || fail install "$CertName was removed from this node at $(epoch_iso "$REMOVED_AT"); could not read when secret version $SecretVersionId was created ($(one_line "$WORK/aws.err")), so nothing was installed"
    if [ "$created_at" -le "$REMOVED_AT" ]; then
      SKIPPED="target removed from this node"
      log "refused: $CertName was removed from this node at $(epoch_iso "$REMOVED_AT") and secret version $SecretVersionId was created before that ($(epoch_iso "$created_at")): this run was already under way; nothing written, nothing reloaded (a new export installs it again)"
    else
      REPORT_READY=1
    fi
  fi
  if [ -z "$SKIPPED" ]; then stage_moved; fi
  # Only files this node's record (or the previous layout's proven state) says acm-export wrote are replaced.
  record_get SecretId owner
  if [ -n "$owner" ] && [ "$owner" != "$SecretId" ]; then
    if ! holder_released "$owner"; then
      fail install "$CertName on this node holds the certificate of secret $owner, not of $SecretId; refusing to replace it (remove that target first; nothing was changed)"
    fi
    log "$CertName was installed from secret $owner of this target, which is deleted; taking the name over"
    NAME_RELEASED=1
  fi
  check_recorded_dirs install
  check_names replace
  KEY_DIR_GROUP=$key_dir_group
  if [ "$ADOPT" = 1 ] && [ -z "$SKIPPED" ]; then adopt_legacy; fi
  if [ "$ADOPT_LEFT" = 1 ] && [ -z "$SKIPPED" ]; then finish_adoption; fi
  if [ -d "$STORE" ]; then store_gc; fi
    # Joined by the shell (PEM text).
  chain_text=""
  for ((i = 2; i <= n_cert; i++)); do IFS= read -r -d '' pem <"$WORK/cert$i.pem" || true; chain_text+=$pem; done
  IFS= read -r -d '' leaf_text <"$LEAF" || true
  printf '%s' "$chain_text" >"$WORK/chain.pem"
  printf '%s' "$leaf_text$chain_text" >"$WORK/fullchain.pem"
  if [ "$CombinedPem" = true ]; then
    IFS= read -r -d '' pem <"$WORK/key.pem" || true
    printf '%s' "$pem$leaf_text$chain_text" >"$WORK/combined.pem"
    pem=""
  fi

  # Desired state of each live file: source in WORK, owner, group, mode (same order as LIVE).
  SRC=("$LEAF" "$WORK/chain.pem" "$WORK/fullchain.pem" "$WORK/key.pem")
  OWN=("$CERT_UID:$CERT_GID" "$CERT_UID:$CERT_GID" "$CERT_UID:$CERT_GID" "$KEY_UID:$KEY_GID")
  MODE=("$CertMode" "$CertMode" "$CertMode" "$KeyMode")
  if [ "$CombinedPem" = true ]; then SRC+=("$WORK/combined.pem"); OWN+=("$KEY_UID:$KEY_GID"); MODE+=("$KeyMode"); fi
  if [ "$Pkcs12" = true ]; then SRC+=("$WORK/bundle.p12"); OWN+=("$KEY_UID:$KEY_GID"); MODE+=("$KeyMode"); fi

  sni_for "${NAMES[0]}"
  # Never downgrade (see "Older versions" in the header): a renewal of the installed certificate (same names,
  # another serial) that expires before it is not installed; the run succeeds with "changed": false.
  INSTALLED_SERIAL=""
  INSTALLED_NOT_AFTER=""
  if [ -z "$SKIPPED" ] && live_member cert.pem; then
    # As the install that wrote it read it, when it is still that very file (the record).
    recorded_leaf "$LM" || read_leaf "$LM"
    inst_serial=$LEAF_SERIAL
    # ISO 8601 UTC times compare as text.
    inst_epoch=$LEAF_NOT_AFTER
    new_epoch=$NOT_AFTER
    # Only a renewal of the same certificate (same DNS names) can be "older": a CertName pointed at a
    # different certificate is a deliberate switch and is installed whatever its expiry.
    # The CN stands in only when there is no SAN, as in NAMES.
    if serial_ok "$inst_serial" && [[ $inst_epoch =~ ^[0-9-]+T[0-9:]+Z$ && $new_epoch =~ ^[0-9-]+T[0-9:]+Z$ ]] &&
      [ "$inst_serial" != "$SERIAL" ] && [[ $new_epoch < $inst_epoch ]] && same_names; then
      SKIPPED="older than installed"
      INSTALLED_SERIAL=$inst_serial
      INSTALLED_NOT_AFTER=$inst_epoch
    fi
  fi
  CHANGED=false
  RESUMED=0
  RELOADED=false
  VERIFIED=false
  if [ -n "$INSTALLED_SERIAL" ]; then
    log "skipped: serial $SERIAL (version $SecretVersionId, not after $NOT_AFTER) is older than the installed serial $INSTALLED_SERIAL (not after $INSTALLED_NOT_AFTER); nothing written, nothing reloaded"
  elif [ -z "$SKIPPED" ]; then
    out_of_sync
    drift=$DRIFT
    if [ -z "$drift" ] && switch_pending; then
      log "completing an earlier run: the live files hold serial $SERIAL (version $SecretVersionId), but the run that switched to them stopped before its reload, hooks and check"
      RESUMED=1
    elif [ -z "$drift" ]; then
      log "unchanged: the live files already hold serial $SERIAL (version $SecretVersionId); nothing written, nothing reloaded"
      if [ "$VerifyPort" != 0 ]; then VERIFIED=true; fi
    else
      log "installing: $drift"
      CHANGED=true
    fi
  fi

  if [ "$CHANGED" = true ]; then
    if [ "$Pkcs12" = true ]; then
      # Modern encryption on OpenSSL 1.1.1 and 3.x alike; the passphrase goes in on fd 3, never argv.
      if ! openssl pkcs12 -export -in "$LEAF" -certfile "$WORK/chain.pem" -inkey "$WORK/key.pem" -name "$CertName" \
        -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -passout fd:3 -out "$WORK/bundle.p12" \
        3<"$WORK/pfxpass" 2>"$WORK/openssl.err"; then
        fail install "could not build the PKCS#12 bundle: $(one_line "$WORK/openssl.err")"
      fi
    fi
    # A new version directory, complete and synced before anything names it.
    store_dirs
    for i in "${TAKEOVER[@]}"; do keep_original "$i"; done
    store_version current || true
    OLD_VERSION=$SV
    # What a rollback puts back: the links as they are now, whatever they name.
    raw_version_link current
    PRE_CURRENT=$RL
    raw_version_link previous
    PRE_PREVIOUS=$RL
    if [ -f "$OWNED" ]; then
      IFS= read -r -d '' record <"$OWNED" || true
      printf '%s' "$record" >"$WORK/owned.before"
    fi
    # From here a failure puts current, previous and the record back and deletes the new version.
    FILES_TOUCHED=1
    STORE_SWITCHED=1
    # Taken-over names become links to what they show now before anything new is named (take_over_names).
    if [ "${#TAKEOVER[@]}" -gt 0 ]; then take_over_names; fi
    new_version
    put_members
    version_ok "$NEW_VERSION" || fail install "the new version $STORE/$NEW_VERSION is incomplete"
    kill_point
    # The live certificate's identity for the inventory, read before the switch clears what the scan read.
    member_path "$NEW_VERSION" cert.pem
    if path_info "$MP"; then LIVE_KNOWN="$MP $PI_INODE $PI_CTIME $PI_SIZE" LIVE_SERIAL=$SERIAL LIVE_NOT_AFTER=$NOT_AFTER; fi

    # The record, then the switch: one rename of `current` (after `previous` names the set being replaced).
    # The new version (RECORD_SYNC, put_members) and the record are synced in one call before the record's
    # rename, and so before anything names the version.
    RECORD_LEAF="$SERIAL $NOT_AFTER ${NAMES[*]}"
    write_record "$NEW_VERSION" || fail install "could not write the ownership record $OWNED"
    kill_point
    # Until the reload, hooks and check below pass, a later run completes them (switch_pending).
    mark_pending "$NEW_VERSION" || fail install "could not write $state_dir/pending/$CertName"
    # Both renames are in the store's directory: one sync after the second makes them durable.
    if [ -n "$OLD_VERSION" ]; then switch_to previous "$OLD_VERSION" nosync || fail install "could not switch $STORE/previous"; fi
    switch_to current "$NEW_VERSION" || fail install "could not switch $STORE/current"
    put_stable_links
    drop_stale_links
    if [ "$NAMES_CHANGED" = 1 ]; then sync -- "$CertDir" "$KeyDir"; NAMES_CHANGED=0; fi
    log "installed $CertName as $STORE/$NEW_VERSION: ${LINKS[*]}"
  fi
  if [ "$RESUMED" = 1 ]; then
    # The names that run did not get to (its .prev links): made as it would have made them.
    put_stable_links
    drop_stale_links
    if [ "$NAMES_CHANGED" = 1 ]; then sync -- "$CertDir" "$KeyDir"; NAMES_CHANGED=0; fi
  fi
  if [ "$CHANGED" = true ] || [ "$RESUMED" = 1 ]; then
  # The secret and what was decrypted from it go before a reload, the hooks or the served-serial check; without
  # them the run ends here and its work directory goes with it (as on every failure and unchanged run).
  if [ "$Service" != none ] || [ -d "$hooks_dir" ] || [ "$VerifyPort" != 0 ]; then
    rm -f -- "$WORK/secret" "$WORK/pass" "$WORK/key.enc.pem" "$WORK/key.pem" "$WORK/combined.pem" "$WORK/bundle.p12" "$WORK/p12.key"
  fi
  if [ "$Service" != none ]; then
    STEP=configtest
    service_configtest || fail configtest "$Service configuration test failed: $(reason_line "$WORK/service.out")"
    STEP=reload
    RELOAD_ATTEMPTED=1
    service_reload || fail reload "$Service reload failed: $(reason_line "$WORK/service.out")"
    RELOADED=true
    log "reloaded $Service"
  fi

  # ---------------------------------------------------------------------------------------------------
  # hooks: root-owned executables in the hooks directory, in lexical order (see "Hooks" in the header).
  STEP=hooks
  if [ -d "$hooks_dir" ]; then
    for hook in "$hooks_dir"/*; do
      [ -e "$hook" ] || continue
      hook_name=$(printf '%s' "${hook##*/}" | tr -c '[:alnum:]._-' '?')
      if [ ! -f "$hook" ] || [ ! -x "$hook" ]; then
        log "hook $hook_name skipped: not an executable file"
        continue
      fi
      if [ "$IS_ROOT" = 1 ]; then
        hook_perm=$(stat -L -c '%u %a' -- "$hook")
        if [ "${hook_perm%% *}" != 0 ] || (( 8#${hook_perm##* } & 8#022 )); then
          log "hook $hook_name skipped: not owned by root or writable by group or others"
          continue
        fi
      fi
      log "running hook $hook_name"
      hook_rc=0
      ACM_EXPORT_CERT=$CERT_FILE ACM_EXPORT_CHAIN=$CHAIN_FILE ACM_EXPORT_FULLCHAIN=$FULLCHAIN_FILE \
        ACM_EXPORT_KEY=$KEY_FILE ACM_EXPORT_CERT_NAME=$CertName ACM_EXPORT_SERIAL=$SERIAL \
        ACM_EXPORT_COMBINED=$([ "$CombinedPem" = true ] && echo "$COMBINED_FILE") \
        ACM_EXPORT_PKCS12=$([ "$Pkcs12" = true ] && echo "$P12_FILE") \
        timeout "$HOOK_SECONDS" "$hook" </dev/null >"$WORK/hook.out" 2>&1 9>&- || hook_rc=$?
      keep_hook_output "$hook_name" "$hook_rc"
      log "hook $hook_name exited with status $hook_rc; $(hook_summary "$WORK/hook.out")"
      rm -f -- "$WORK/hook.out"
      if [ "$hook_rc" -ne 0 ]; then fail hooks "hook $hook_name exited with status $hook_rc"; fi
    done
  fi

  # ---------------------------------------------------------------------------------------------------
  # verify: the served serial on 127.0.0.1:VerifyPort (SNI = first name) must be the new one.
  if [ "$VerifyPort" != 0 ]; then
    STEP=verify
    if ! wait_served "$SERIAL"; then
      if serial_ok "$LAST_SERVED"; then
        fail verify "127.0.0.1:$VerifyPort serves serial $LAST_SERVED for $VERIFY_SNI, not the new $SERIAL"
      fi
      fail verify "no certificate could be read from 127.0.0.1:$VerifyPort for $VERIFY_SNI within ${verify_seconds}s"
    fi
    VERIFIED=true
    SERVED=$SERIAL
    log "verified: 127.0.0.1:$VerifyPort serves serial $SERIAL for $VERIFY_SNI"
  fi
  mark_pending "" || true
  fi # CHANGED or RESUMED

  # ---------------------------------------------------------------------------------------------------
  # Done: the replaced version stays as `previous` (the .prev names); older ones go.
  STEP=finish
  FILES_TOUCHED=0
  # Names this run changed in CertDir or KeyDir since the last sync (an adoption).
  if [ "$NAMES_CHANGED" = 1 ]; then sync -- "$CertDir" "$KeyDir" || true; fi

  if [ -n "$REMOVED_AT" ] && [ "$REPORT_READY" = 1 ]; then
    # A new export installed after the removal: the target is back.
    rm -f -- "$(tombstone_file)"
  fi
  if [ -n "$SKIPPED" ]; then report_or_warn skipped
  elif [ "$CHANGED" = true ] || [ "$RESUMED" = 1 ]; then report_or_warn installed
  else report_or_warn unchanged; fi
  # After the inventory, which reads the live set from the same scan as the switch.
  if [ "$CHANGED" = true ]; then store_gc; fi

  print_result
}
