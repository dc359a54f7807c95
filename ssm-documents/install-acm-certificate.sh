#!/usr/bin/env bash
# Install-ACMCertificate: install one exported ACM certificate on this node.
#
# Fetches exactly one Secrets Manager version (acm-export secret format: a passphrase block, an optional
# PFX passphrase block, the leaf certificate, the chain in order, the encrypted PKCS#8 key), decrypts the
# key in a private temp dir, validates everything, writes the files atomically, tests and reloads the web
# server, runs the deploy hooks, checks the served serial, and restores the previous files if any of that
# fails.
#
# Two modes: a push names the version (SecretVersionId); a State Manager association names the stage
# (SecretVersionStage=AWSCURRENT), which is resolved to a version id first, then fetched like a push.
# Either way the run is idempotent: when the live files (content, owner, group, mode) already hold that
# version and the server serves its serial, nothing is written and nothing is reloaded ("changed": false).
# After every run past parameter validation the node's state is written as custom inventory
# (Custom:AcmExportCertificate, one entry per CertName, no secrets) for the SSM Agent to collect.
#
# Action (default install) selects two more runs, which read no secret and take the same lock:
#   report  changes nothing: re-reads the live files (serial; a Problem when one is missing, the key does
#           not match the certificate or the full chain is not leaf + chain) and the served serial, and
#           rewrites the entry (CheckedAt, Problem; LastRun, LastRunAt, FailedStep and SecretVersionId stay
#           those of the last install run). Run by the per-target report association between installs,
#           so the drift check sees files changed by hand.
#   remove  deletes every file an install of CertName writes (see "Files", whatever the profile) and their
#           .prev copies, and the entry; see run_remove below.
# and a fourth that takes no lock at all:
#   preflight  changes nothing and ignores CertName: reports whether this node is ready for installs (see
#           run_preflight below). SecretId names the stack's canary secret, which holds no key material.
#
# Requires bash 4 or later on the node (with coreutils, util-linux flock, openssl >= 1.1.1, AWS CLI v2).
# The preflight reports every other missing tool, but it cannot report a missing bash: it is bash. The
# SSM Agent runs the runCommand lines as a file through `sh -c`, so the kernel follows the first line
# (#!/usr/bin/env bash); without bash the command fails with env's own "No such file or directory" and
# exit code 127, before any "acm-export:" line. bash 3 (no associative arrays) exits 11 with one line.
#
# Input: environment variables only, never text spliced into this script.
#   Document parameters (interpolationType ENV_VAR, SSM Agent >= 3.3.2746.0):
#     SSM_CertName SSM_SecretId SSM_Region                               required
#     SSM_SecretVersionId | SSM_SecretVersionStage                       install: exactly one of the two
#                                                                        non-empty; other actions: neither
#     SSM_Action SSM_CertDir SSM_KeyDir SSM_KeyGroup SSM_Service SSM_VerifyPort SSM_KeyOwner
#     SSM_KeyMode SSM_CertOwner SSM_CertGroup SSM_CertMode SSM_Pkcs12 SSM_CombinedPem SSM_Target
#                                                                        optional, document defaults
#   Not document parameters (local mode, tests):
#     ACM_EXPORT_NGINX_CONF      nginx configuration to test and reload (`nginx -c FILE -t`,
#                                `nginx -c FILE -s reload`); when set, systemd is not used for nginx
#                                and Service=auto means nginx
#     APACHE_CONFDIR             read by Debian's apachectl: the Apache instance to test and reload (its
#                                apache2.conf and envvars); when set, systemd is not used for Apache
#     ACM_EXPORT_VERIFY_SECONDS  how long to retry the served-serial check (default 10)
#     ACM_EXPORT_LOCK_SECONDS    how long to wait for another run for the same CertName (default 300)
#     ACM_EXPORT_ALLOW_STICKY_ANCESTOR  1: as root, accept targets below a sticky world-writable
#                                directory such as /tmp (see "Directory trust"; default 0)
#     AWS_SSM_INSTANCE_ID        node id in the result line (set by the SSM Agent; else `uname -n`), and
#                                the custom inventory location /var/lib/amazon/ssm/<id>/inventory/custom
#                                (written only when the agent's /var/lib/amazon/ssm/<id> exists)
#     ACM_EXPORT_INVENTORY_DIR   where to write AcmExportCertificate.json instead (local mode, tests)
#     ACM_EXPORT_STATE_DIR       per-certificate state (default /var/lib/acm-export, or
#                                ACM_EXPORT_INVENTORY_DIR/.acm-export-state when that is set)
#     ACM_EXPORT_HOOKS_DIR       deploy hooks directory instead of /etc/acm-export/hooks.d (local mode,
#                                tests; Run Command sets no variable but SSM_<parameter>, see "Hooks")
#     ACM_EXPORT_LOG_DIR         where hooks.log goes instead of /var/log/acm-export (local mode, tests)
#     TMPDIR                     where the private work directory is created
#
# Output: progress lines "acm-export: ..." on stderr. On success exactly one JSON line on stdout:
#   {"node","certName","serial","notAfter","names":[...],"files":{"cert","chain","fullchain","key"
#    [,"combined"][,"pkcs12"]},"service","requestedService","reloaded":bool,"verified":bool,"changed":bool,
#    "secretVersionId"}
#   serial is as openssl prints it: upper-case hex without colons (ACM shows lower-case with colons).
#   service is the server tested and reloaded; requestedService the Service parameter. Service=auto picks
#   the one of nginx, apache2 and httpd that is on PATH and running (active systemd unit, else a process of
#   that name; with ACM_EXPORT_NGINX_CONF set: nginx): none running → service "none" (files installed, no
#   reload); more than one → the run fails at preflight, nothing changed, asking for an explicit Service.
#   A version older than the installed certificate adds ,"skipped":"older than installed",
#   "installedSerial","installedNotAfter" (serial, notAfter and secretVersionId stay the requested ones).
#   report: {"node","certName","action":"report","serial","servedSerial","problem"} (exit 0 whatever it
#   found); remove: {"node","certName","action":"remove","removed":[paths],"changed":bool}; preflight:
#   {"node","action":"preflight","bash","awsCli","openssl","server","secret","missing":[tools]} (exit 0).
# On failure the last stderr line is "acm-export: FAILED at <step>: <reason>", stdout holds one line
# {["node",]"failedStep","exitCode","reason"} (the same reason), and the exit code names
# the step: 10 parameters, 11 preflight, 12 lock, 13 decrypt, 14 validate, 15 install, 16 configtest,
# 17 reload, 18 hooks, 19 verify, 20 finish (internal error), 21 failed and the rollback was incomplete.
# An unexpected command failure inside a step reports that step ("unexpected error ... near line N").
#
# Files: CertDir/<CertName>.crt (leaf), .chain.pem, .fullchain.pem (CertOwner:CertGroup, CertMode);
# KeyDir/<CertName>.key (KeyOwner:KeyGroup, KeyMode: 0600, or 0640 with KeyGroup), and with the same
# owner and mode KeyDir/<CertName>.combined.pem (key + full chain, CombinedPem=true) and
# KeyDir/<CertName>.p12 (PKCS#12 with key, leaf and chain, AES-256-CBC/PBKDF2/SHA-256 MAC, Pkcs12=true;
# its passphrase is the secret version's PFX passphrase block). The set replaced by a successful install
# is kept as <file>.prev. During a run the old files are hard-linked as .<file>.acm-export-rollback
# (removed when the run ends). All runs for one CertName and KeyDir (pushes and association runs alike)
# are serialized with flock on KeyDir/.<CertName>.acm-export.lock; the idempotency check, the writes, the
# reload, the hooks and the verification all happen under it.
#
# Older versions: a certificate whose notAfter is earlier than that of the certificate installed for the
# same CertName (and whose serial differs, with the same DNS names) is never installed: the run prints "acm-export: skipped: ..."
# and succeeds with "changed": false and "skipped": "older than installed", writes nothing, reloads
# nothing, and reports LastRun "skipped" with the installed version in the custom inventory. Such a run
# is a late pinned push (its command waited for an offline node, or was retried) arriving after a newer
# version was installed by a later push or the association; installing it would undo the renewal, and
# failing it would alert on a node that already holds the newer certificate and that no retry could
# "fix". The workflow already ends an older export as Superseded before it sends anything; this covers
# the commands already sent. To go back to an older certificate on purpose, remove the live files for
# that CertName first. The node's run succeeds, but the workflow reads "skipped" from the result line: the
# export is reported as not installed on that node (status-check).
#
# Placement (parameters, before anything is read or written): CertDir and KeyDir must equal or lie below
# (whole components) one of ALLOWED_DIRS, and never be one of FORBIDDEN_EXACT or below one of
# FORBIDDEN_TREES (system trees, web roots); a non-empty KeyOwner or KeyGroup must be one of
# ALLOWED_KEY_ACCOUNTS. The stack writes its policy into this text when it builds the document, so no
# SendCommand caller can widen it with a parameter. Anything else is refused with one line each (exit 10).
#
# Hooks: after an install that changed the files (and the reload), every root-owned executable in the
# fixed directory /etc/acm-export/hooks.d runs in lexical order (certbot deploy-hook style), with the file
# paths in ACM_EXPORT_* variables; a hook that fails rolls the install back. The directory is not a
# parameter: whoever may send the document must not choose which root-owned programs run as root. A hook's
# stdout and stderr go to LOG_DIR/hooks.log (root-only, 0600, rotated at 1 MiB to hooks.log.1), never into
# the run's output, which gets one summary line per hook: its name, exit status and at most 3 of its last
# output lines, with key blocks, long base64-like runs (passphrases, key bodies) and paths under KeyDir masked.
#
# Removed targets: a successful remove leaves a tombstone (STATE_DIR/removed/<CertName>: the SecretId and
# the time). An install of CertName from that secret whose version was created (Secrets Manager
# CreatedDate) no later than the removal is refused without changing anything: it was already in flight
# (an association run or a push sent before the removal). It prints "acm-export: refused: ..." and succeeds
# with "changed": false and "skipped": "target removed from this node". A version created after the
# removal (a new export) installs and clears the tombstone. The comparison uses this node's clock.
#
# Directory trust (preflight, before anything is written): as root, CertDir, KeyDir and the hooks directory and every
# directory on the way to them from / (symbolic links resolved, each link owned by root too) must be
# owned by root and not writable by group or others; anything else is refused with one line per problem
# (exit 11), because whoever can change one of those directories could swap a staged file, the lock or a
# rollback link for a symbolic link between two steps and make root write, chown or chmod any file.
# Sticky world-writable directories (/tmp) count as writable by others, so targets below /tmp are
# refused too. Not as root (local mode, tests), the same walk accepts directories owned by root or the
# current user, and a sticky world-writable directory ends it: only the owner of an entry there may
# rename or remove it, so the directories from the target up to (not including) the nearest sticky
# world-writable one are checked, and the target must not be that directory or be created directly in
# it. ACM_EXPORT_ALLOW_STICKY_ANCESTOR=1 (not a document parameter) applies that sticky rule as root
# too, for test and local-mode roots under /tmp. Beyond the check, file operations do not follow
# symbolic links: staged files are re-checked (regular file, owner, mode, one link) before the rename,
# chown/chgrp use -h, renames and rollback links use -T, and a live, .prev or rollback name that is a
# symbolic link or not a regular file is refused; so is a lock file that is one.
set -Eeuo pipefail
umask 077
export LC_ALL=C
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
if [ "${BASH_VERSINFO[0]:-0}" -lt 4 ]; then
  echo "acm-export: FAILED at preflight: bash 4 or later is required" >&2
  exit 11
fi

# ---------------------------------------------------------------------------------------------------
# Parameter rules: identical to FIELD_RULES in lambda/shared/patterns.ts (a test compares them).
declare -rA RE=(
  [Action]='^(install|report|remove|preflight)$'
  [CertName]='^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'
  [SecretId]='^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$'
  [SecretVersionId]='^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$'
  [SecretVersionStage]='^(AWSCURRENT)?$'
  [Region]='^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$'
  [CertDir]='^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$'
  [KeyDir]='^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$'
  [KeyGroup]='^([a-z_][a-z0-9_-]{0,31})?$'
  [Service]='^(auto|none|nginx|apache2|httpd)$'
  [VerifyPort]='^(0|[1-9][0-9]{0,4})$'
  [KeyOwner]='^([a-z_][a-z0-9_-]{0,31})?$'
  [KeyMode]='^(0600|0640|0400|0440)?$'
  [CertOwner]='^([a-z_][a-z0-9_-]{0,31})?$'
  [CertGroup]='^([a-z_][a-z0-9_-]{0,31})?$'
  [CertMode]='^(0644|0640|0444|0440|0600|0400)$'
  [Pkcs12]='^(true|false)$'
  [CombinedPem]='^(true|false)$'
  [Target]='^([A-Za-z0-9_.:/@-]{1,128}=[A-Za-z0-9_.:/=+@-]([A-Za-z0-9_.:/=+@ -]{0,254}[A-Za-z0-9_.:/=+@-])?)?$'
)
declare -rA MAX=(
  [Action]=9 [CertName]=64 [SecretId]=2048 [SecretVersionId]=36 [Region]=32 [CertDir]=255
  [KeyDir]=255 [KeyGroup]=32 [Service]=7 [VerifyPort]=5 [SecretVersionStage]=10
  [KeyOwner]=32 [KeyMode]=4 [CertOwner]=32 [CertGroup]=32 [CertMode]=4 [Pkcs12]=5 [CombinedPem]=5
  [Target]=385
)
# Defaults: identical to the document's parameter defaults (a test compares them).
declare -rA DEFAULT=(
  [Action]='install'
  [CertDir]='/etc/ssl/certs'
  [KeyDir]='/etc/ssl/private'
  [KeyGroup]=''
  [Service]='auto'
  [VerifyPort]='0'
  [SecretVersionId]=''
  [SecretVersionStage]=''
  [KeyOwner]=''
  [KeyMode]=''
  [CertOwner]=''
  [CertGroup]=''
  [CertMode]='0644'
  [Pkcs12]='false'
  [CombinedPem]='false'
  [Target]=''
)
# Placement policy (header "Placement"): the stack writes its own ALLOWED_DIRS and ALLOWED_KEY_ACCOUNTS lines
# here when it builds the document (ssm-documents/load.ts); these are the defaults. The FORBIDDEN lists are
# fixed: identical to lambda/shared/placement.ts (a test compares them).
declare -ra ALLOWED_DIRS=('/etc/ssl' '/etc/pki' '/etc/nginx/ssl' '/etc/apache2/ssl' '/etc/httpd/ssl' '/etc/haproxy')
declare -ra ALLOWED_KEY_ACCOUNTS=('root' 'ssl-cert' 'www-data' 'nginx' 'apache' 'haproxy')
declare -ra FORBIDDEN_TREES=('/proc' '/dev' '/sys' '/usr' '/bin' '/sbin' '/lib' '/lib64' '/boot' '/root' '/var/www'
  '/srv/www' '/srv/http' '/usr/share/nginx/html' '/var/lib/nginx/html')
declare -ra FORBIDDEN_EXACT=('/' '/etc' '/var' '/srv' '/opt' '/home' '/tmp' '/run')

STEP=parameters
REPORTED=
WORK=
LOCK_FD=9
HOOK_SECONDS=120
declare -a PENDING=()          # staged temp files beside the live files, removed on every exit path
declare -a LIVE=()             # live file paths, in install order
declare -a RENAMED=()          # 1 when this run renamed a new file onto LIVE[i]
FILES_TOUCHED=0
RELOAD_ATTEMPTED=0
REPORT_READY=0                 # 1 once the parameters are valid: failures are then reported as inventory
SERVED=""                      # serial served on VerifyPort, when it was read
LAST_SERVED=""                 # the serial wait_served saw last
PROBLEM=""                     # what is wrong with the live files (report), one line; empty: nothing
Action=install                 # until the parameters are read

log() { printf 'acm-export: %s\n' "$*" >&2; }

step_code() {
  case $1 in
    parameters) echo 10 ;; preflight) echo 11 ;; lock) echo 12 ;; decrypt) echo 13 ;;
    validate) echo 14 ;; install) echo 15 ;; configtest) echo 16 ;; reload) echo 17 ;;
    hooks) echo 18 ;; verify) echo 19 ;; *) echo 20 ;;
  esac
}

# One line of tool output, safe to print: control characters replaced, length capped.
one_line() {
  local text
  text=$(tail -n "${2:-1}" -- "$1" 2>/dev/null | tr -c '[:print:]' ' ' || true)
  text=${text#"${text%%[! ]*}"}
  text=${text%"${text##*[! ]}"}
  printf '%s' "${text:0:300}"
}

# The most telling line of a server's output: its first error line, else its last line.
reason_line() {
  local line
  line=$(grep -m1 -A1 -E '\[(emerg|alert|crit|error)\]|AH[0-9]{5}|[Ss]yntax error|[Ff]ailed' -- "$1" 2>/dev/null || true)
  # A line ending in ':' (Apache's "AH00526: Syntax error on line N of FILE:") has its reason on the next one.
  if [[ ${line%%$'\n'*} == *: ]]; then line=${line/$'\n'/ }; fi
  line=${line%%$'\n'*}
  if [ -n "$line" ]; then
    printf '%s\n' "$line" >"$1.reason"
    one_line "$1.reason"
  else
    one_line "$1"
  fi
}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//[$'\001'-$'\037']/}
  printf '"%s"' "$s"
}

# Custom inventory: one fragment per CertName under the state dir, assembled into the one file per type
# that the SSM Agent's inventory collection (AWS-GatherSoftwareInventory, customInventory enabled) reads.
# What the node has installed and serves; never key material. Best effort: never changes the outcome.
INVENTORY_TYPE=AcmExportCertificate
# A field of this CertName's current fragment (identifiers, tokens and times only).
fragment_field() { # name
  grep -Eo "\"$1\":\"[^\"]*\"" "$state_dir/inventory/$CertName.json" 2>/dev/null | head -n1 | sed 's/^"[^"]*":"//; s/"$//' || true
}
report_inventory() { # installed|unchanged|skipped|failed|report [step]
  [ "$REPORT_READY" = 1 ] || return 0
  if [ -z "$inventory_dir" ]; then
    log "custom inventory not written: no SSM Agent directory for this node (AWS_SSM_INSTANCE_ID unset or /var/lib/amazon/ssm/<id> missing)"
    return 0
  fi
  local status=$1 step=${2:-} serial="" not_after="" installed_at="" version=$SecretVersionId verified=false
  local now run_at frag_dir="$state_dir/inventory" frag tmp
  now=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
  run_at=$now
  frag="$frag_dir/$CertName.json"
  if [ -f "$CERT_FILE" ] && [ ! -L "$CERT_FILE" ]; then
    serial=$(openssl x509 -in "$CERT_FILE" -noout -serial 2>/dev/null | sed 's/^serial=//')
    not_after=$(openssl x509 -in "$CERT_FILE" -noout -enddate 2>/dev/null | sed 's/^notAfter=//')
    not_after=$(date -u -d "$not_after" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || true)
    installed_at=$(date -u -r "$CERT_FILE" '+%Y-%m-%dT%H:%M:%SZ')
  fi
  [[ $serial =~ ^[0-9A-F]{1,80}$ ]] || serial=""
  case $status in
    failed | skipped)
      # The live files are the previous ones: keep the version id recorded when they were installed.
      version=$(fragment_field SecretVersionId) ;;
    report)
      # A report is not an install run: the last install run's outcome stays as it was recorded.
      version=$(fragment_field SecretVersionId)
      status=$(fragment_field LastRun)
      step=$(fragment_field FailedStep)
      run_at=$(fragment_field LastRunAt)
      if [ "${VERIFIED:-false}" = true ]; then verified=true; fi ;;
    *) if [ "${VERIFIED:-false}" = true ]; then verified=true; fi ;;
  esac
  (umask 022 && mkdir -p -- "$frag_dir" "$inventory_dir") || return 1
  tmp=$(mktemp -- "$frag_dir/.$CertName.XXXXXXXX") || return 1
  printf '{"CertName":%s,"Target":%s,"SecretId":%s,"SecretVersionId":%s,"Serial":%s,"ServedSerial":%s,"NotAfter":%s,"Verified":"%s","InstalledAt":%s,"LastRun":%s,"FailedStep":%s,"LastRunAt":%s,"CheckedAt":%s,"Problem":%s,"Service":%s,"Node":%s}\n' \
    "$(json_str "$CertName")" "$(json_str "$Target")" "$(json_str "$SecretId")" "$(json_str "$version")" \
    "$(json_str "$serial")" "$(json_str "$SERVED")" "$(json_str "$not_after")" "$verified" "$(json_str "$installed_at")" \
    "$(json_str "$status")" "$(json_str "$step")" "$(json_str "$run_at")" "$(json_str "$now")" "$(json_str "$PROBLEM")" \
    "$(json_str "$Service")" "$(json_str "$node_id")" >"$tmp" || { rm -f -- "$tmp"; return 1; }
  chmod 0644 -- "$tmp" && mv -fT -- "$tmp" "$frag" || return 1
  assemble_inventory || return 1
  log "custom inventory: Custom:$INVENTORY_TYPE entry for $CertName written (${1})"
}
# The one file the agent reads: every CertName's fragment (none: an empty list, so removals show).
assemble_inventory() {
  local frag_dir="$state_dir/inventory"
  (umask 022 && mkdir -p -- "$frag_dir" "$inventory_dir") || return 1
  (
    exec 8>>"$frag_dir/.lock"
    flock -w 30 8 || exit 1
    shopt -s nullglob
    frags=("$frag_dir"/*.json)
    out=$(mktemp -- "$inventory_dir/.$INVENTORY_TYPE.XXXXXXXX") || exit 1
    if ! {
      printf '{"SchemaVersion":"1.0","TypeName":"Custom:%s","Content":[' "$INVENTORY_TYPE"
      if [ "${#frags[@]}" -gt 0 ]; then awk 'FNR == 1 { if (n++) printf ","; printf "%s", $0 }' "${frags[@]}"; fi
      printf ']}\n'
    } >"$out" || ! chmod 0644 -- "$out" || ! mv -fT -- "$out" "$inventory_dir/$INVENTORY_TYPE.json"; then
      rm -f -- "$out"
      exit 1
    fi
  )
}
report_or_warn() { report_inventory "$@" || log "warning: could not write the custom inventory"; }

# Service: configuration test, reload (systemd when it runs the service, else the server's own).
nginx_cmd() {
  if [ -n "$nginx_conf" ]; then nginx -c "$nginx_conf" "$@"; else nginx "$@"; fi
}
systemd_runs() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1.service"
}
service_configtest() {
  case $Service in
    nginx) nginx_cmd -t ;;
    apache2 | httpd) "$APACHECTL" configtest ;;
    *) true ;;
  esac >"$WORK/service.out" 2>&1 </dev/null 9>&-
}
service_reload() {
  case $Service in
    nginx)
      if [ -z "$nginx_conf" ] && systemd_runs nginx; then systemctl reload nginx.service; else nginx_cmd -s reload; fi ;;
    apache2 | httpd)
      if [ -z "${APACHE_CONFDIR:-}" ] && systemd_runs "$Service"; then systemctl reload "$Service.service"; else "$APACHECTL" graceful; fi ;;
    *) true ;;
  esac >"$WORK/service.out" 2>&1 </dev/null 9>&-
}

# The SNI name the served-serial check sends for a certificate's first DNS name (a wildcard gets a
# concrete name below it).
sni_for() { # name
  if [[ $1 == \*.* ]]; then printf 'acm-export-verify.%s' "${1#\*.}"; else printf '%s' "$1"; fi
}
served_serial() {
  (timeout 5 openssl s_client -connect "127.0.0.1:$VerifyPort" -servername "$VERIFY_SNI" </dev/null 2>/dev/null || true) |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' || true
}
# Waits (up to ACM_EXPORT_VERIFY_SECONDS) until 127.0.0.1:VerifyPort serves the given serial.
# LAST_SERVED: the serial seen last.
wait_served() { # serial
  local deadline=$((SECONDS + verify_seconds))
  LAST_SERVED=$(served_serial)
  while [ "$LAST_SERVED" != "$1" ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
    LAST_SERVED=$(served_serial)
  done
}

# A hook's output stays on the node: appended (at most 256 KiB a run) to LOG_DIR/hooks.log, 0600 in a
# 0700 directory, rotated once it passes 1 MiB. Best effort: a log that cannot be written is reported,
# and the output is dropped rather than printed.
HOOK_LOG_MAX=1048576
keep_hook_output() { # name status
  local log_file="$log_dir/hooks.log" info
  if ! (umask 077 && mkdir -p -- "$log_dir") || [ -L "$log_dir" ] ||
    ! info=$(stat -c '%u %a' -- "$log_dir" 2>/dev/null) || [ "${info% *}" != "$MY_UID" ] || (( 8#${info#* } & 8#077 )); then
    log "warning: $log_dir is not a private directory of uid $MY_UID; the output of hook $1 was not kept"
    return 0
  fi
  if [ -L "$log_file" ] || { [ -e "$log_file" ] && [ ! -f "$log_file" ]; }; then
    log "warning: $log_file is not a regular file; the output of hook $1 was not kept"
    return 0
  fi
  if [ "$(stat -c %s -- "$log_file" 2>/dev/null || echo 0)" -gt "$HOOK_LOG_MAX" ]; then
    mv -fT -- "$log_file" "$log_file.1" || true
  fi
  if ! {
    printf '%s %s hook %s exited with status %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$CertName" "$1" "$2"
    head -c 262144 -- "$WORK/hook.out"
    printf '\n'
  } >>"$log_file" 2>/dev/null || ! chmod 0600 -- "$log_file"; then
    log "warning: could not append to $log_file; the output of hook $1 was not kept"
  fi
}
# What the run output may show of a hook's output: its last 3 non-empty lines, each cut to 160 characters,
# with PEM blocks, lines naming a private key, long or random-looking base64 runs (passphrases, key bodies;
# not hex, such as a serial) and every path under KeyDir replaced.
hook_summary() { # file
  local lines
  lines=$(awk -v keydir="$KeyDir" '
    function masked(text,   out, tok, i) {
      while ((i = index(text, keydir)) > 0) {
        out = out substr(text, 1, i - 1) "[path under KeyDir]"
        text = substr(text, i + length(keydir))
        sub(/^[^ \t"'\'':;,]*/, "", text)
      }
      text = out text
      out = ""
      while (match(text, /[A-Za-z0-9+\/=_-]+/)) {
        tok = substr(text, RSTART, RLENGTH)
        if ((length(tok) >= 40 && tok !~ /^[0-9A-Fa-f]+$/) || (length(tok) >= 16 && tok !~ /\// && tok ~ /[A-Z]/ && tok ~ /[a-z]/ && tok ~ /[0-9]/)) tok = "[withheld]"
        out = out substr(text, 1, RSTART - 1) tok
        text = substr(text, RSTART + RLENGTH)
      }
      return out text
    }
    function keep(line) { sub(/^ +/, "", line); sub(/ +$/, "", line); if (line != "") last[n++ % 3] = substr(line, 1, 160) }
    { gsub(/[^ -~]/, " ") }
    inblock { if ($0 ~ /-----END /) inblock = 0; next }
    /-----BEGIN / { inblock = ($0 !~ /-----END /); keep("[PEM block withheld]"); next }
    /PRIVATE KEY|-----END / { keep("[withheld]"); next }
    { keep(masked($0)) }
    END { for (i = (n > 3 ? n - 3 : 0); i < n; i++) printf "%s\"%s\"", (i > (n > 3 ? n - 3 : 0) ? " | " : ""), last[i % 3] }
  ' "$1" 2>/dev/null || true)
  if [ -n "$lines" ]; then
    printf 'last output (redacted; all of it in %s/hooks.log): %s' "$log_dir" "$lines"
  else
    printf 'no output'
  fi
}

# The per-CertName lock that serializes pushes, association runs, reports and removals on this node.
take_lock() {
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
}

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

# Tombstones of removed targets (see "Removed targets" in the header): STATE_DIR/removed/<CertName>.
tombstone_file() { printf '%s/removed/%s' "$state_dir" "$CertName"; }
# When CertName was removed from this secret on this node (epoch seconds); fails when it was not.
removed_at() {
  local file secret at
  file=$(tombstone_file)
  [ -f "$file" ] && [ ! -L "$file" ] || return 1
  secret=$(sed -n 's/^SecretId=//p' -- "$file" | head -n1)
  at=$(sed -n 's/^RemovedAt=//p' -- "$file" | head -n1)
  [ "$secret" = "$SecretId" ] && [[ $at =~ ^[0-9]{1,12}$ ]] || return 1
  printf '%s' "$at"
}
record_removal() {
  local dir="$state_dir/removed" tmp
  (umask 022 && mkdir -p -- "$dir") || return 1
  tmp=$(mktemp -- "$dir/.$CertName.XXXXXXXX") || return 1
  if ! printf 'SecretId=%s\nRemovedAt=%s\n' "$SecretId" "$(date -u +%s)" >"$tmp" || ! chmod 0644 -- "$tmp" ||
    ! mv -fT -- "$tmp" "$dir/$CertName"; then
    rm -f -- "$tmp"
    return 1
  fi
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

# ---------------------------------------------------------------------------------------------------
# Action=report: what this node holds and serves for CertName, as custom inventory. Changes no file and
# reloads nothing; the last install run's outcome (LastRun, LastRunAt, FailedStep, SecretVersionId) stays.
run_report() {
  STEP=lock
  if [ -d "$KeyDir" ]; then take_lock; fi
  STEP=finish
  local dest sni present=0
  local -a missing=()
  for dest in "${LIVE[@]}"; do
    if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -f "$dest" ]; }; then
      PROBLEM=${PROBLEM:-"$dest is not a regular file"}
      present=1
    elif [ -e "$dest" ]; then
      present=1
    else
      missing+=("$dest")
    fi
  done
  if [ "$present" = 0 ]; then
    PROBLEM="not installed"
  elif [ "${#missing[@]}" -gt 0 ]; then
    PROBLEM=${PROBLEM:-"missing ${missing[*]}"}
  fi
  local serial=""
  if [ -f "$CERT_FILE" ] && [ ! -L "$CERT_FILE" ]; then
    serial=$(openssl x509 -in "$CERT_FILE" -noout -serial 2>/dev/null | sed 's/^serial=//' || true)
    [[ $serial =~ ^[0-9A-F]{1,80}$ ]] || serial=""
  fi
  if [ -z "$PROBLEM" ]; then
    # The set must be consistent: the key belongs to the certificate, the full chain is leaf + chain.
    openssl x509 -in "$CERT_FILE" -noout -pubkey >"$WORK/cert.pub" 2>/dev/null || : >"$WORK/cert.pub"
    openssl pkey -in "$KEY_FILE" -pubout -out "$WORK/key.pub" 2>/dev/null || : >"$WORK/key.pub"
    if [ -z "$serial" ]; then
      PROBLEM="$CERT_FILE is not a certificate"
    elif [ ! -s "$WORK/key.pub" ] || ! cmp -s -- "$WORK/key.pub" "$WORK/cert.pub"; then
      PROBLEM="the key does not match the certificate"
    elif ! cat -- "$CERT_FILE" "$CHAIN_FILE" | cmp -s -- - "$FULLCHAIN_FILE"; then
      PROBLEM="$FULLCHAIN_FILE is not the certificate followed by the chain"
    fi
  fi
  VERIFIED=false
  if [ "$VerifyPort" != 0 ] && [ -n "$serial" ]; then
    sni=$(openssl x509 -in "$CERT_FILE" -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' | sed -n 's/^[[:space:]]*DNS://p' | head -n1 || true)
    [[ $sni =~ ^(\*\.)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$ ]] || sni=localhost
    VERIFY_SNI=$(sni_for "$sni")
    SERVED=$(served_serial)
    [[ $SERVED =~ ^[0-9A-F]{1,80}$ ]] || SERVED=""
    if [ "$SERVED" = "$serial" ]; then VERIFIED=true; fi
  fi
  if [ "$present" = 0 ] && removed_at >/dev/null; then
    log "report: $CertName was removed from this node; no inventory entry written"
  else
    report_or_warn report
  fi
  log "report: $CertName holds serial ${serial:-none}${SERVED:+, 127.0.0.1:$VerifyPort serves $SERVED}${PROBLEM:+; problem: $PROBLEM}"
  printf '{"node":%s,"certName":%s,"action":"report","serial":%s,"servedSerial":%s,"problem":%s}\n' \
    "$(json_str "${node_id:-$(uname -n)}")" "$(json_str "$CertName")" "$(json_str "$serial")" "$(json_str "$SERVED")" "$(json_str "$PROBLEM")"
  exit 0
}

# ---------------------------------------------------------------------------------------------------
# Action=preflight: is this node ready for installs? One JSON line (and one log line): bash, AWS CLI and
# OpenSSL versions, missing tools, the web server found, and whether SecretId (the canary secret) can be
# read and decrypted, as a class only (ok, denied, notfound, error): its value goes to /dev/null and the
# error text is never printed. Takes no lock, writes no file, reloads nothing; exit 0 whatever it found.
run_preflight() {
  local t awscli ossl server=none secret=error err missing
  local -a absent=()
  for t in openssl awk sed grep flock mktemp sync timeout stat date aws; do
    command -v "$t" >/dev/null 2>&1 || absent+=("$t")
  done
  awscli=$(aws --version 2>&1 </dev/null | sed -n 's|^aws-cli/\([0-9][0-9.]*\).*|\1|p' | head -n1 || true)
  ossl=$(openssl version 2>/dev/null | sed -n 's/^OpenSSL \([0-9][0-9a-z.]*\).*/\1/p' | head -n1 || true)
  for t in nginx apache2 httpd; do
    if command -v "$t" >/dev/null 2>&1; then server=$t; break; fi
  done
  if err=$(aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" \
    --query SecretString --output text 2>&1 >/dev/null </dev/null); then
    secret=ok
  else
    case $err in
      *AccessDenied* | *"not authorized"*) secret=denied ;;
      *ResourceNotFound*) secret=notfound ;;
    esac
  fi
  missing=""
  for t in "${absent[@]}"; do missing+="${missing:+,}$(json_str "$t")"; done
  log "preflight: bash $BASH_VERSION, aws-cli ${awscli:-none}, openssl ${ossl:-none}, server $server, secret $secret${absent[*]:+, missing ${absent[*]}}"
  printf '{"node":%s,"action":"preflight","bash":"%s.%s","awsCli":%s,"openssl":%s,"server":"%s","secret":"%s","missing":[%s]}\n' \
    "$(json_str "${node_id:-$(uname -n)}")" "${BASH_VERSINFO[0]}" "${BASH_VERSINFO[1]}" "$(json_str "$awscli")" "$(json_str "$ossl")" "$server" "$secret" "$missing"
  exit 0
}

# ---------------------------------------------------------------------------------------------------
# Action=remove: delete every file an install of CertName writes, and their .prev copies, once the web
# server's configuration test passes without them (else everything is put back and the run fails at
# configtest: the server still uses them). Never reloads: a server whose configuration no longer names the
# files does not need them. Refuses when this node recorded CertName as installed from another secret.
# The empty lock file stays (removing a lock another run may be waiting on would let two runs in at once).
run_remove() {
  STEP=lock
  if [ -d "$KeyDir" ]; then take_lock; fi
  STEP=install
  local owner dest backup i
  local -a gone=()
  owner=$(fragment_field SecretId)
  if [ -n "$owner" ] && [ "$owner" != "$SecretId" ]; then
    fail install "$CertName on this node was installed from another secret ($owner); nothing was removed"
  fi
  check_live_names remove
  for dest in "${LIVE[@]}"; do
    backup=$(backup_of "$dest")
    if [ -e "$backup" ]; then
      fail install "$backup was left by an interrupted run (the next install run resolves it); nothing was removed"
    fi
  done
  remove_stale_staged
  # Move the live files aside (hard links kept as rollback copies), then test the server without them.
  FILES_TOUCHED=1
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    [ -e "$dest" ] || continue
    ln -PT -- "$dest" "$(backup_of "$dest")" || fail install "could not keep a rollback copy of $dest"
    rm -f -- "$dest" || fail install "could not remove $dest"
    gone+=("$dest")
  done
  if [ "${#gone[@]}" -gt 0 ] && [ "$Service" != none ]; then
    STEP=configtest
    service_configtest ||
      fail configtest "$Service configuration test fails without the files, so the server still uses them (point it at other files first): $(reason_line "$WORK/service.out")"
  fi
  # Recorded before the rollback copies go: an install already in flight must find it (header: "Removed targets").
  record_removal || fail install "could not record the removal in $state_dir/removed; nothing was removed"
  STEP=finish
  for dest in "${LIVE[@]}"; do
    rm -f -- "$(backup_of "$dest")"
    if [ -f "$dest.prev" ]; then rm -f -- "$dest.prev" && gone+=("$dest.prev"); fi
  done
  FILES_TOUCHED=0
  sync -- "$CertDir" "$KeyDir" 2>/dev/null || true
  if [ -n "$inventory_dir" ] && [ -e "$state_dir/inventory/$CertName.json" ]; then
    rm -f -- "$state_dir/inventory/$CertName.json"
    assemble_inventory || log "warning: could not write the custom inventory"
  fi
  local removed_json="" changed=false f
  for f in "${gone[@]}"; do removed_json="$removed_json${removed_json:+,}$(json_str "$f")"; done
  if [ "${#gone[@]}" -gt 0 ]; then changed=true; fi
  log "removed ${#gone[@]} file(s) of $CertName${gone[*]:+: ${gone[*]}}"
  printf '{"node":%s,"certName":%s,"action":"remove","removed":[%s],"changed":%s}\n' \
    "$(json_str "${node_id:-$(uname -n)}")" "$(json_str "$CertName")" "$removed_json" "$changed"
  exit 0
}

backup_of() { printf '%s/.%s.acm-export-rollback' "${1%/*}" "${1##*/}"; }

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

# The failure as one JSON line on stdout too: the agent keeps the start of stdout and cuts stderr's tail when
# the output is long, so the FAILED line can be lost there. Node id only once the parameters are valid.
failure_json() { # step code text
  local node_json="" text=$3 listed
  if [ "$REPORT_READY" = 1 ]; then node_json="\"node\":$(json_str "${node_id:-$(uname -n)}"),"; fi
  # Parameter and preflight failures list their problems on lines of their own: the first ones go here.
  if [[ $1 =~ ^(parameters|preflight)$ ]] && [ "${#problems[@]}" -gt 0 ]; then
    listed=$(printf '%s; ' "${problems[@]}")
    text="${listed%; }: $text"
  fi
  printf '{%s"failedStep":"%s","exitCode":%s,"reason":%s}\n' "$node_json" "$1" "$2" "$(json_str "${text:0:600}")"
}

fail() {
  local step=$1 code
  shift
  code=$(step_code "$step")
  REPORTED=1
  set +e
  ROLLBACK_NOTE=""
  if ! rollback; then code=21; fi
  # Only an install run is recorded as failed: a report or a removal that failed left the entry as it was.
  if [ "$Action" = install ]; then report_or_warn failed "$step"; fi
  log "FAILED at $step: $*$ROLLBACK_NOTE"
  failure_json "$step" "$code" "$*$ROLLBACK_NOTE"
  exit "$code"
}

on_exit() {
  local rc=$?
  set +e
  trap - ERR
  if [ "$rc" -ne 0 ] && [ -z "$REPORTED" ]; then
    REPORTED=1
    ROLLBACK_NOTE=""
    local code
    code=$(step_code "$STEP")
    if ! rollback; then code=21; fi
    if [ "$Action" = install ]; then report_or_warn failed "$STEP"; fi
    log "FAILED at $STEP: unexpected error (status $rc near line ${ERR_LINE:-?})$ROLLBACK_NOTE"
    failure_json "$STEP" "$code" "unexpected error (status $rc near line ${ERR_LINE:-?})$ROLLBACK_NOTE"
    rc=$code
  fi
  local f
  for f in "${PENDING[@]}"; do rm -f -- "$f"; done
  if [ -n "$WORK" ]; then rm -rf -- "$WORK"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'ERR_LINE=$LINENO' ERR
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------
# parameters: every value is re-checked here even though the document's allowedPatterns already did.
problems=()
check_param() { # name value
  local name=$1 value=$2
  if [ "${#value}" -gt "${MAX[$name]}" ] || ! [[ $value =~ ${RE[$name]} ]]; then
    problems+=("SSM_$name does not match its allowedPattern ${RE[$name]} (at most ${MAX[$name]} characters)")
  fi
}

Action=${SSM_Action-${DEFAULT[Action]}}
# A valid action other than install (an invalid one is reported once, as its own pattern failure).
takes_no_version() { [ "$Action" != install ] && [[ $Action =~ ${RE[Action]} ]]; }
missing=()
for name in CertName SecretId SecretVersionId Region; do
  var="SSM_$name"
  # A version id or, in association mode, a stage; report and remove runs take neither.
  if [ "$name" = SecretVersionId ] && { [ -n "${SSM_SecretVersionStage+set}" ] || takes_no_version; }; then continue; fi
  if [ -z "${!var+set}" ]; then missing+=("$var"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  fail parameters "${missing[*]} not set: this document passes its parameters as environment variables (interpolationType ENV_VAR), which needs SSM Agent >= 3.3.2746.0; update the agent on this node"
fi

CertName=${SSM_CertName-}
SecretId=${SSM_SecretId-}
SecretVersionId=${SSM_SecretVersionId-}
SecretVersionStage=${SSM_SecretVersionStage-}
Region=${SSM_Region-}
CertDir=${SSM_CertDir-${DEFAULT[CertDir]}}
KeyDir=${SSM_KeyDir-${DEFAULT[KeyDir]}}
KeyGroup=${SSM_KeyGroup-${DEFAULT[KeyGroup]}}
Service=${SSM_Service-${DEFAULT[Service]}}
VerifyPort=${SSM_VerifyPort-${DEFAULT[VerifyPort]}}
KeyOwner=${SSM_KeyOwner-${DEFAULT[KeyOwner]}}
KeyMode=${SSM_KeyMode-${DEFAULT[KeyMode]}}
CertOwner=${SSM_CertOwner-${DEFAULT[CertOwner]}}
CertGroup=${SSM_CertGroup-${DEFAULT[CertGroup]}}
CertMode=${SSM_CertMode-${DEFAULT[CertMode]}}
Pkcs12=${SSM_Pkcs12-${DEFAULT[Pkcs12]}}
CombinedPem=${SSM_CombinedPem-${DEFAULT[CombinedPem]}}
Target=${SSM_Target-${DEFAULT[Target]}}

for name in Action CertName SecretId SecretVersionId SecretVersionStage Region CertDir KeyDir KeyGroup Service \
  VerifyPort KeyOwner KeyMode CertOwner CertGroup CertMode Pkcs12 CombinedPem Target; do
  check_param "$name" "${!name}"
done
if takes_no_version; then
  if [ -n "$SecretVersionId" ] || [ -n "$SecretVersionStage" ]; then
    problems+=("Action=$Action takes neither SSM_SecretVersionId nor SSM_SecretVersionStage")
  fi
elif [ -n "$SecretVersionId" ] && [ -n "$SecretVersionStage" ]; then
  problems+=("give exactly one of SSM_SecretVersionId (push) and SSM_SecretVersionStage (association), not both")
elif [ -z "$SecretVersionId" ] && [ -z "$SecretVersionStage" ]; then
  problems+=("give exactly one of SSM_SecretVersionId (push) and SSM_SecretVersionStage (association)")
fi
# Belt and braces beyond the patterns (each only if the pattern itself passed).
if [[ $VerifyPort =~ ${RE[VerifyPort]} ]] && [ "$VerifyPort" -gt 65535 ]; then
  problems+=("SSM_VerifyPort must be at most 65535")
fi
for name in CertDir KeyDir; do
  if [[ ${!name} =~ ${RE[$name]} ]]; then
    case "${!name}/" in */../* | */./*) problems+=("SSM_$name must not contain . or .. components") ;; esac
  fi
done
# Placement: CertDir and KeyDir inside the stack's allowed directories, the key owned by allowed accounts.
at_or_below() { [ "$2" = / ] || [ "$1" = "$2" ] || [[ $1 == "$2"/* ]]; }
check_placement() { # name dir
  local f
  for f in "${FORBIDDEN_EXACT[@]}"; do
    if [ "$2" = "$f" ]; then problems+=("SSM_$1 $2 is never allowed (a system directory, a web root or too broad a parent)"); return; fi
  done
  for f in "${FORBIDDEN_TREES[@]}"; do
    if at_or_below "$2" "$f"; then problems+=("SSM_$1 $2 is below $f, which is never allowed (a system directory or a web root)"); return; fi
  done
  for f in "${ALLOWED_DIRS[@]}"; do if at_or_below "$2" "$f"; then return; fi; done
  problems+=("SSM_$1 $2 is not under an allowed directory (${ALLOWED_DIRS[*]})")
}
for name in CertDir KeyDir; do
  # Only a value its pattern and length already accept is judged (and named) here.
  value=${!name}
  if [[ $value =~ ${RE[$name]} ]] && [ "${#value}" -le "${MAX[$name]}" ]; then check_placement "$name" "$value"; fi
done
for name in KeyOwner KeyGroup; do
  if [ -n "${!name}" ] && [[ ${!name} =~ ${RE[$name]} ]] && ! [[ " ${ALLOWED_KEY_ACCOUNTS[*]} " == *" ${!name} "* ]]; then
    problems+=("SSM_$name ${!name} is not an allowed key owner or group (${ALLOWED_KEY_ACCOUNTS[*]})")
  fi
done
verify_seconds=${ACM_EXPORT_VERIFY_SECONDS:-10}
lock_seconds=${ACM_EXPORT_LOCK_SECONDS:-300}
[[ $verify_seconds =~ ^[0-9]{1,4}$ ]] || problems+=("ACM_EXPORT_VERIFY_SECONDS must be a whole number of seconds")
[[ $lock_seconds =~ ^[0-9]{1,5}$ ]] || problems+=("ACM_EXPORT_LOCK_SECONDS must be a whole number of seconds")
[[ ${ACM_EXPORT_ALLOW_STICKY_ANCESTOR:-0} =~ ^[01]$ ]] || problems+=("ACM_EXPORT_ALLOW_STICKY_ANCESTOR must be 0 or 1")
nginx_conf=${ACM_EXPORT_NGINX_CONF:-}
if [ -n "$nginx_conf" ] && ! [[ $nginx_conf =~ ^/[A-Za-z0-9/._-]+$ && -f $nginx_conf ]]; then
  problems+=("ACM_EXPORT_NGINX_CONF must be the absolute path of an existing nginx configuration file")
fi
inventory_dir=${ACM_EXPORT_INVENTORY_DIR:-}
state_dir=${ACM_EXPORT_STATE_DIR:-}
if [ -z "$state_dir" ]; then
  if [ -n "$inventory_dir" ]; then state_dir="$inventory_dir/.acm-export-state"; else state_dir=/var/lib/acm-export; fi
fi
# Not parameters: Run Command sets only SSM_<parameter> variables, so only root's own environment (local
# mode, tests) can move these.
hooks_dir=${ACM_EXPORT_HOOKS_DIR:-/etc/acm-export/hooks.d}
log_dir=${ACM_EXPORT_LOG_DIR:-/var/log/acm-export}
node_id=${AWS_SSM_INSTANCE_ID:-}
for name in inventory_dir state_dir hooks_dir log_dir; do
  if [ -n "${!name}" ] && ! [[ ${!name} =~ ^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$ ]]; then
    problems+=("${name^^} must be an absolute directory path without . or .. components")
  fi
done
if [ -n "$node_id" ] && ! [[ $node_id =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$ ]]; then
  problems+=("AWS_SSM_INSTANCE_ID is not a managed node id")
fi
if [ "${#problems[@]}" -gt 0 ]; then
  for p in "${problems[@]}"; do log "parameters: $p"; done
  fail parameters "${#problems[@]} invalid parameter value(s); nothing was changed"
fi
# The agent's own directory must already exist: never create it on a machine without an SSM Agent.
if [ -z "$inventory_dir" ] && [ -n "$node_id" ] && [ -d "/var/lib/amazon/ssm/$node_id" ]; then
  inventory_dir="/var/lib/amazon/ssm/$node_id/inventory/custom"
fi

IS_ROOT=0
if [ "$(id -u)" = 0 ]; then IS_ROOT=1; fi
CERT_FILE="$CertDir/$CertName.crt"
CHAIN_FILE="$CertDir/$CertName.chain.pem"
FULLCHAIN_FILE="$CertDir/$CertName.fullchain.pem"
KEY_FILE="$KeyDir/$CertName.key"
COMBINED_FILE="$KeyDir/$CertName.combined.pem"
P12_FILE="$KeyDir/$CertName.p12"
LIVE=("$CERT_FILE" "$CHAIN_FILE" "$FULLCHAIN_FILE" "$KEY_FILE")
if [ "$CombinedPem" = true ]; then LIVE+=("$COMBINED_FILE"); fi
if [ "$Pkcs12" = true ]; then LIVE+=("$P12_FILE"); fi
# A removal takes every file an install of CertName may have written, whatever the profile says now.
if [ "$Action" = remove ]; then LIVE=("$CERT_FILE" "$CHAIN_FILE" "$FULLCHAIN_FILE" "$KEY_FILE" "$COMBINED_FILE" "$P12_FILE"); fi
if [ -z "$KeyMode" ]; then
  if [ -n "$KeyGroup" ]; then KeyMode=0640; else KeyMode=0600; fi
fi
if [ "$Action" = preflight ]; then run_preflight; fi
REPORT_READY=1

# ---------------------------------------------------------------------------------------------------
STEP=preflight
problems=()
for tool in openssl awk sed grep flock mktemp sync timeout stat date; do
  command -v "$tool" >/dev/null 2>&1 || problems+=("$tool is not installed")
done
if command -v openssl >/dev/null 2>&1 && ! [[ $(openssl version 2>/dev/null) =~ ^OpenSSL\ (1\.1\.1|[3-9]\.) ]]; then
  problems+=("OpenSSL 1.1.1 or later is required (found: $(openssl version 2>/dev/null | tr -c '[:print:]' ' '))")
fi
# Only an install reads the secret; only an install or a removal tests the server's configuration.
if [ "$Action" != install ]; then
  :
elif ! command -v aws >/dev/null 2>&1; then
  problems+=("AWS CLI v2 is not installed (aws not found on PATH)")
elif ! [[ $(aws --version 2>&1 </dev/null) =~ ^aws-cli/2\. ]]; then
  problems+=("AWS CLI v2 is required (aws --version does not report aws-cli/2)")
fi
# Service=auto: the one web server this node runs, found before anything changes (see the header).
RequestedService=$Service
server_running() { # name: on PATH, and an active systemd unit or a process of that name
  command -v "$1" >/dev/null 2>&1 || return 1
  { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1.service"; } ||
    pgrep -x "$1" >/dev/null 2>&1
}
if [ "$Service" = auto ] && { [ "$Action" = install ] || [ "$Action" = remove ]; }; then
  running=()
  if [ -n "$nginx_conf" ]; then running=(nginx); else
    for web in nginx apache2 httpd; do if server_running "$web"; then running+=("$web"); fi; done
  fi
  if [ "${#running[@]}" -gt 1 ]; then
    problems+=("Service=auto found more than one running web server (${running[*]}); set Service to the one to reload")
  elif [ "${#running[@]}" = 1 ]; then
    Service=${running[0]}
    log "Service=auto: $Service is running"
  else
    Service=none
    log "Service=auto: no running web server found; files installed, no reload"
  fi
fi
case $Action:$Service in
  report:*) ;;
  *:nginx) command -v nginx >/dev/null 2>&1 || problems+=("Service=nginx but nginx is not on PATH") ;;
  *:apache2 | *:httpd)
    APACHECTL=$(command -v apachectl || command -v apache2ctl || true)
    [ -n "$APACHECTL" ] || problems+=("Service=$Service but apachectl is not on PATH") ;;
esac
for name in KeyGroup CertGroup; do
  [ "$Action" = install ] || break
  if [ -n "${!name}" ] && ! getent group "${!name}" >/dev/null 2>&1; then
    problems+=("$name ${!name} does not exist on this node")
  fi
done
for name in KeyOwner CertOwner; do
  [ "$Action" = install ] || break
  if [ -n "${!name}" ]; then
    if ! getent passwd "${!name}" >/dev/null 2>&1; then
      problems+=("$name ${!name} does not exist on this node")
    elif [ "$IS_ROOT" != 1 ] && [ "$(id -u "${!name}")" != "$(id -u)" ]; then
      problems+=("$name ${!name} needs the script to run as root")
    fi
  fi
done
check_dir() { # name dir
  local d=$2
  while [ ! -e "$d" ] && [ "$d" != / ]; do d=${d%/*}; d=${d:-/}; done
  if [ ! -d "$d" ]; then
    problems+=("$1 $2 is not a directory ($d is in the way)")
  elif [ ! -w "$d" ]; then
    problems+=("$1 $2 is not writable")
  fi
}
check_dir CertDir "$CertDir"
check_dir KeyDir "$KeyDir"
# Directory trust: nobody but root (or, when not run as root, the current user) may be able to change
# any directory on the way to the files this run writes, or they could swap a staged file, the lock or a
# rollback link for a symlink between two of this script's steps. Walks the path from / the way the
# kernel resolves it (symlinks followed and checked, their own owner included).
MY_UID=$(id -u)
trusted_uid() { [ "$1" = 0 ] || { [ "$IS_ROOT" != 1 ] && [ "$1" = "$MY_UID" ]; }; }
check_tree() { # name path
  local name=$1 rest=${2#/} cur=/ comp next link hops=0 info uid mode sticky=0 who=root
  local -a found=() kept=()  # found: since the walk last (re)started at /, kept: earlier walks
  if [ "$IS_ROOT" != 1 ]; then who="root or uid $MY_UID"; fi
  while :; do
    # cur is a real directory (no symlink in its path); judge it.
    info=$(stat -c '%u %a' -- "$cur" 2>/dev/null) || { found+=("cannot inspect $cur"); break; }
    uid=${info% *}
    mode=${info#* }
    sticky=0
    if [ "$sticky_ok" = 1 ] && (( (8#$mode & 01002) == 01002 )); then
      # Sticky and world-writable (/tmp): only the owner of an entry may rename or remove it, so what is
      # above it no longer matters; what is below it must still pass (header: "Directory trust").
      found=()
      sticky=1
    else
      trusted_uid "$uid" || found+=("$cur is owned by uid $uid, not by $who")
      if (( 8#$mode & 022 )); then found+=("$cur is writable by group or others (mode $mode)"); fi
    fi
    while :; do
      [ -n "$rest" ] || break 2
      comp=${rest%%/*}
      if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
      case $comp in
        '' | .) continue ;;
        ..) cur=${cur%/*}; cur=${cur:-/}; continue ;;
      esac
      next=${cur%/}/$comp
      if [ -L "$next" ]; then
        hops=$((hops + 1))
        if [ "$hops" -gt 40 ]; then found+=("too many symbolic links below $cur"); break 2; fi
        uid=$(stat -c '%u' -- "$next" 2>/dev/null || echo '?')
        trusted_uid "$uid" || found+=("symbolic link $next is owned by uid $uid, not by $who")
        link=$(readlink -- "$next") || { found+=("cannot read symbolic link $next"); break 2; }
        case $link in
          /*) # start again at /, judging it again; what was found so far stands
            kept+=("${found[@]}"); found=(); cur=/; rest=${link#/}${rest:+/$rest}; break ;;
          *) rest=$link${rest:+/$rest}; continue ;;
        esac
      fi
      # A missing component ends the walk: the rest is created by this run inside cur.
      [ -d "$next" ] || break 2
      cur=$next
      break
    done
  done
  if [ "$sticky" = 1 ]; then
    found+=("$cur is a world-writable directory; $name must be a directory below it owned by $who")
  fi
  local p
  for p in "${kept[@]}" "${found[@]}"; do problems+=("$name $2 is not safe to write as uid $MY_UID: $p"); done
}
sticky_ok=0
if [ "$IS_ROOT" != 1 ] || [ "${ACM_EXPORT_ALLOW_STICKY_ANCESTOR:-0}" = 1 ]; then sticky_ok=1; fi
check_tree CertDir "$CertDir"
check_tree KeyDir "$KeyDir"
# The hooks directory and every directory above it: a hook is run as root, so nobody else may add one.
check_tree "hooks directory" "$hooks_dir"
if [ "$IS_ROOT" = 1 ] && [ -d "$hooks_dir" ]; then
  hooks_perm=$(stat -L -c '%u %a' -- "$hooks_dir")
  if [ "${hooks_perm%% *}" != 0 ] || (( 8#${hooks_perm##* } & 8#022 )); then
    problems+=("hooks directory $hooks_dir must be owned by root and not writable by group or others")
  fi
fi
export AWS_PAGER=""
if [ "${#problems[@]}" -eq 0 ]; then
  # A run killed at its execution timeout runs no EXIT trap: its private work directory (which may hold
  # the decrypted key while it waited for the lock) is removed by a later run once it is older than any
  # run can last (the document's step timeout is 600 s).
  find "${TMPDIR:-/tmp}" -mindepth 1 -maxdepth 1 -type d -name 'acm-export-work.*' -user "$MY_UID" -mmin +60 \
    -exec rm -rf -- {} + 2>/dev/null || true
  WORK=$(mktemp -d -t acm-export-work.XXXXXXXX)
fi
if [ "${#problems[@]}" -eq 0 ] && [ "$Action" = install ]; then
  # Association mode: resolve the stage to the version id first, then fetch exactly that version.
  if [ -n "$SecretVersionStage" ]; then
    if ! aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" \
      --version-stage "$SecretVersionStage" --output json >"$WORK/current.json" 2>"$WORK/aws.err" </dev/null; then
      problems+=("cannot read the $SecretVersionStage version of the secret: $(one_line "$WORK/aws.err")")
    else
      SecretVersionId=$(grep -Eo '"VersionId": *"[0-9a-f-]{36}"' "$WORK/current.json" | head -n1 | grep -Eo '[0-9a-f-]{36}' || true)
      [[ $SecretVersionId =~ ${RE[SecretVersionId]} && -n $SecretVersionId ]] ||
        problems+=("the $SecretVersionStage version of the secret has no version id")
    fi
    rm -f -- "$WORK/current.json"
  fi
fi
if [ "${#problems[@]}" -eq 0 ] && [ "$Action" = install ]; then
  if ! aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" \
    --version-id "$SecretVersionId" --query SecretString --output text \
    >"$WORK/secret" 2>"$WORK/aws.err" </dev/null; then
    problems+=("cannot read the secret version: $(one_line "$WORK/aws.err")")
  elif [ ! -s "$WORK/secret" ]; then
    problems+=("the secret version has no SecretString")
  fi
fi
if [ "${#problems[@]}" -gt 0 ]; then
  for p in "${problems[@]}"; do log "preflight: $p"; done
  fail preflight "${#problems[@]} problem(s); nothing was changed"
fi
case $Action in
  report) run_report ;;
  remove) run_remove ;;
esac
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
read -r n_pass n_cert n_key n_other n_bad n_pfx <<<"$counts"
rm -f -- "$WORK/secret"
if [ "$n_pass" != 1 ] || [ "$n_key" != 1 ] || [ "$n_cert" -lt 1 ] || [ "$n_other" != 0 ] || [ "$n_bad" != 0 ] || [ "$n_pfx" -gt 1 ]; then
  fail decrypt "the secret is not in the acm-export format (found $n_pass passphrase, $n_cert certificate, $n_key encrypted key, $n_other other and $n_bad malformed PEM blocks)"
fi
if ! grep -Eqx '[A-Za-z0-9_-]{4,128}' "$WORK/pass" || [ "$(wc -l <"$WORK/pass")" != 1 ]; then
  fail decrypt "the passphrase block of the secret is malformed"
fi
if [ "$Pkcs12" = true ]; then
  if [ "$n_pfx" != 1 ]; then
    fail decrypt "Pkcs12=true but secret version $SecretVersionId holds no PFX passphrase; export again with Pkcs12 enabled for this target"
  fi
  if ! grep -Eqx '[A-Za-z0-9_-]{4,128}' "$WORK/pfxpass" || [ "$(wc -l <"$WORK/pfxpass")" != 1 ]; then
    fail decrypt "the PFX passphrase block of the secret is malformed"
  fi
fi
if ! openssl pkey -in "$WORK/key.enc.pem" -passin fd:3 -out "$WORK/key.pem" 3<"$WORK/pass" 2>"$WORK/openssl.err"; then
  fail decrypt "could not decrypt the private key with the passphrase stored beside it (wrong passphrase or damaged key)"
fi
rm -f -- "$WORK/pass" "$WORK/key.enc.pem"

# ---------------------------------------------------------------------------------------------------
# validate: before any live file is touched.
STEP=validate
LEAF="$WORK/cert1.pem"
if [ "$n_cert" -lt 2 ]; then fail validate "the secret holds no certificate chain"; fi
# One openssl call for the leaf: serial, notAfter, names, public key, and (exit status) not expired.
expired=0
openssl x509 -in "$LEAF" -noout -serial -enddate -ext subjectAltName -pubkey -checkend 0 \
  >"$WORK/leaf.txt" 2>/dev/null || expired=1
SERIAL=$(sed -n 's/^serial=//p' "$WORK/leaf.txt")
not_after_raw=$(sed -n 's/^notAfter=//p' "$WORK/leaf.txt")
if [ -z "$SERIAL" ] || [ -z "$not_after_raw" ]; then
  fail validate "the first certificate block of the secret is not a valid X.509 certificate"
fi
[[ $SERIAL =~ ^[0-9A-F]{1,80}$ ]] || fail validate "unexpected serial number format"
sed -n '/^-----BEGIN PUBLIC KEY-----$/,/^-----END PUBLIC KEY-----$/p' "$WORK/leaf.txt" >"$WORK/cert.pub"
openssl pkey -in "$WORK/key.pem" -pubout -out "$WORK/key.pub" 2>/dev/null || : >"$WORK/key.pub"
if [ ! -s "$WORK/key.pub" ] || [ "$(<"$WORK/key.pub")" != "$(<"$WORK/cert.pub")" ]; then
  fail validate "the private key does not match the certificate"
fi
if [ "$expired" = 1 ]; then
  fail validate "the certificate has expired ($not_after_raw)"
fi
for ((i = 1; i < n_cert; i++)); do
  if ! openssl verify -no-CAfile -no-CApath -partial_chain -trusted "$WORK/cert$((i + 1)).pem" \
    "$WORK/cert$i.pem" >"$WORK/verify.out" 2>&1; then
    fail validate "the chain is not in order or does not verify: certificate $((i + 1)) did not issue certificate $i ($(one_line "$WORK/verify.out" 2))"
  fi
done
NOT_AFTER=$(date -u -d "$not_after_raw" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null) || NOT_AFTER=$not_after_raw
[[ $NOT_AFTER =~ ^[A-Za-z0-9:\ -]+$ ]] || fail validate "unexpected notAfter format"
NAMES=()
san=$(sed -n '/^X509v3 Subject Alternative Name:/{n;p;}' "$WORK/leaf.txt")
IFS=',' read -r -a san_entries <<<"$san"
for entry in "${san_entries[@]}"; do
  entry=${entry#"${entry%%[! ]*}"}
  case $entry in DNS:*) NAMES+=("${entry#DNS:}") ;; esac
done
if [ "${#NAMES[@]}" -eq 0 ]; then
  cn=$(openssl x509 -in "$LEAF" -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p' | head -n1)
  if [ -n "$cn" ]; then NAMES=("$cn"); fi
fi
if [ "${#NAMES[@]}" -eq 0 ]; then fail validate "the certificate names no DNS name"; fi
for n in "${NAMES[@]}"; do
  [[ $n =~ ^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$ ]] || fail validate "the certificate holds a name that is not a DNS name"
done
log "validated $CertName: serial $SERIAL, not after $NOT_AFTER, ${#NAMES[@]} name(s), chain of $((n_cert - 1))"

# ---------------------------------------------------------------------------------------------------
# install: under the lock, compare the live files with the new set (nothing to do when they match);
# otherwise stage every file beside the live one, keep the old ones and rename into place.
STEP=install
make_dir() { # dir mode [group]
  if [ ! -d "$1" ]; then
    (umask 022 && mkdir -p -- "$1")
    [ ! -L "$1" ] || fail install "$1 turned into a symbolic link while it was being created"
    if [ -n "${3:-}" ]; then chgrp -h -- "$3" "$1"; fi
    chmod "$2" -- "$1"
    log "created $1"
  fi
}
# Who owns what: root (or, when not run as root, the current user) unless the profile names someone.
uid_of() { if [ -n "$1" ]; then id -u "$1"; elif [ "$IS_ROOT" = 1 ]; then echo 0; else id -u; fi; }
gid_of() { if [ -n "$1" ]; then getent group "$1" | cut -d: -f3; elif [ "$IS_ROOT" = 1 ]; then echo 0; else id -g; fi; }
CERT_UID=$(uid_of "$CertOwner")
CERT_GID=$(gid_of "$CertGroup")
KEY_UID=$(uid_of "$KeyOwner")
KEY_GID=$(gid_of "$KeyGroup")
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
if REMOVED_AT=$(removed_at); then
  # Not recorded as a failed install either: that would bring the removed entry back into the inventory.
  REPORT_READY=0
  created_at=$(version_created_at) || fail install "$CertName was removed from this node at $(date -u -d "@$REMOVED_AT" '+%Y-%m-%dT%H:%M:%SZ'); could not read when secret version $SecretVersionId was created ($(one_line "$WORK/aws.err")), so nothing was installed"
  if [ "$created_at" -le "$REMOVED_AT" ]; then
    SKIPPED="target removed from this node"
    log "refused: $CertName was removed from this node at $(date -u -d "@$REMOVED_AT" '+%Y-%m-%dT%H:%M:%SZ') and secret version $SecretVersionId was created before that ($(date -u -d "@$created_at" '+%Y-%m-%dT%H:%M:%SZ')): this run was already under way; nothing written, nothing reloaded (a new export installs it again)"
  else
    REPORT_READY=1
  fi
fi
check_live_names replace
remove_stale_staged
: >"$WORK/chain.pem"
for ((i = 2; i <= n_cert; i++)); do cat -- "$WORK/cert$i.pem" >>"$WORK/chain.pem"; done
cat -- "$LEAF" "$WORK/chain.pem" >"$WORK/fullchain.pem"
if [ "$CombinedPem" = true ]; then cat -- "$WORK/key.pem" "$WORK/fullchain.pem" >"$WORK/combined.pem"; fi

# Desired state of each live file: source in WORK, owner, group, mode (same order as LIVE).
declare -a SRC=("$LEAF" "$WORK/chain.pem" "$WORK/fullchain.pem" "$WORK/key.pem")
declare -a OWN=("$CERT_UID:$CERT_GID" "$CERT_UID:$CERT_GID" "$CERT_UID:$CERT_GID" "$KEY_UID:$KEY_GID")
declare -a MODE=("$CertMode" "$CertMode" "$CertMode" "$KeyMode")
if [ "$CombinedPem" = true ]; then SRC+=("$WORK/combined.pem"); OWN+=("$KEY_UID:$KEY_GID"); MODE+=("$KeyMode"); fi
if [ "$Pkcs12" = true ]; then SRC+=("$WORK/bundle.p12"); OWN+=("$KEY_UID:$KEY_GID"); MODE+=("$KeyMode"); fi

# A PKCS#12 file is never byte-identical twice (random salts), so it matches when it opens with the
# passphrase and holds this leaf and a key for it.
p12_matches() { # file
  openssl pkcs12 -in "$1" -passin fd:3 -nokeys -clcerts -out "$WORK/p12.crt" 3<"$WORK/pfxpass" 2>/dev/null &&
    openssl pkcs12 -in "$1" -passin fd:3 -nocerts -nodes -out "$WORK/p12.key" 3<"$WORK/pfxpass" 2>/dev/null &&
    [ "$(openssl x509 -in "$WORK/p12.crt" -noout -fingerprint -sha256 2>/dev/null)" = \
      "$(openssl x509 -in "$LEAF" -noout -fingerprint -sha256 2>/dev/null)" ] &&
    [ "$(openssl pkey -in "$WORK/p12.key" -pubout 2>/dev/null)" = "$(<"$WORK/cert.pub")" ]
}
VERIFY_SNI=$(sni_for "${NAMES[0]}")
# Which live file differs from the desired state (empty: none).
out_of_sync() {
  local i dest
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    if [ -L "$dest" ] || [ ! -f "$dest" ]; then echo "$dest is missing"; return; fi
    if [ "$(stat -c '%u:%g:%a' -- "$dest")" != "${OWN[$i]}:${MODE[$i]#0}" ]; then echo "$dest has another owner, group or mode"; return; fi
    if [ "$dest" = "$P12_FILE" ]; then
      p12_matches "$dest" || { echo "$dest does not hold this certificate and key"; return; }
    elif ! cmp -s -- "${SRC[$i]}" "$dest"; then
      echo "$dest differs"; return
    fi
  done
  if [ "$VerifyPort" != 0 ]; then
    SERVED=$(served_serial)
    if [ "$SERVED" != "$SERIAL" ]; then echo "127.0.0.1:$VerifyPort serves ${SERVED:-no certificate}, not $SERIAL"; return; fi
  fi
}
# Never downgrade (see "Older versions" in the header): a renewal of the installed certificate (same names,
# another serial) that expires before it is not installed; the run succeeds with "changed": false.
INSTALLED_SERIAL=""
INSTALLED_NOT_AFTER=""
if [ -z "$SKIPPED" ] && [ -f "$CERT_FILE" ] && [ ! -L "$CERT_FILE" ]; then
  installed=$(openssl x509 -in "$CERT_FILE" -noout -serial -enddate 2>/dev/null || true)
  inst_serial=$(sed -n 's/^serial=//p' <<<"$installed")
  inst_epoch=$(date -u -d "$(sed -n 's/^notAfter=//p' <<<"$installed")" +%s 2>/dev/null || true)
  new_epoch=$(date -u -d "$not_after_raw" +%s 2>/dev/null || true)
  # Only a renewal of the same certificate (same DNS names) can be "older": a CertName pointed at a
  # different certificate is a deliberate switch and is installed whatever its expiry.
  inst_names=$(openssl x509 -in "$CERT_FILE" -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' |
    sed -n 's/^[[:space:]]*DNS://p' | sort -u | tr '\n' ' ')
  new_names=$(printf '%s\n' "${NAMES[@]}" | sort -u | tr '\n' ' ')
  if [[ $inst_serial =~ ^[0-9A-F]{1,80}$ && $inst_epoch =~ ^[0-9]+$ && $new_epoch =~ ^[0-9]+$ ]] &&
    [ "$inst_serial" != "$SERIAL" ] && [ "$new_epoch" -lt "$inst_epoch" ] && [ "$inst_names" = "$new_names" ]; then
    SKIPPED="older than installed"
    INSTALLED_SERIAL=$inst_serial
    INSTALLED_NOT_AFTER=$(date -u -d "@$inst_epoch" '+%Y-%m-%dT%H:%M:%SZ')
  fi
fi
if [ -n "$SKIPPED" ] && [ -n "$REMOVED_AT" ] && [ "$REPORT_READY" = 0 ]; then
  drift=""
elif [ -n "$SKIPPED" ]; then
  drift=""
  log "skipped: serial $SERIAL (version $SecretVersionId, not after $NOT_AFTER) is older than the installed serial $INSTALLED_SERIAL (not after $INSTALLED_NOT_AFTER); nothing written, nothing reloaded"
else
  out_of_sync >"$WORK/drift"
  drift=$(<"$WORK/drift")
fi
if [ -n "$SKIPPED" ]; then
  CHANGED=false
  RELOADED=false
  VERIFIED=false
elif [ -z "$drift" ]; then
  log "unchanged: the live files already hold serial $SERIAL (version $SecretVersionId); nothing written, nothing reloaded"
  CHANGED=false
  RELOADED=false
  VERIFIED=false
  if [ "$VerifyPort" != 0 ]; then VERIFIED=true; fi
else
  log "installing: $drift"
  CHANGED=true
fi

# Staged files are created by mktemp (O_EXCL, mode 0600); each later step by path re-checks that the name
# is still our regular file (never a symbolic link), and the final owner/mode/link count is verified.
staged_intact() { # file uid:gid mode
  [ ! -L "$1" ] && [ -f "$1" ] && [ "$(stat -c '%u:%g:%a:%h' -- "$1")" = "$2:${3#0}:1" ]
}
stage() { # src dest mode uid:gid -> sets STAGED
  local dir=${2%/*}
  STAGED=$(mktemp -- "$dir/.$CertName.acm-export.XXXXXXXX")
  PENDING+=("$STAGED")
  staged_intact "$STAGED" "$MY_UID:$(id -g)" 0600 || fail install "staged file $STAGED was replaced before it was written"
  cat -- "$1" >"$STAGED"
  if [ "$IS_ROOT" = 1 ]; then chown -h "$4" -- "$STAGED"; elif [ "${4#*:}" != "$(id -g)" ]; then chgrp -h -- "${4#*:}" "$STAGED"; fi
  [ ! -L "$STAGED" ] || fail install "staged file $STAGED was replaced by a symbolic link"
  chmod "$3" -- "$STAGED"
  staged_intact "$STAGED" "$4" "$3" || fail install "staged file $STAGED was changed by someone else"
  sync -- "$STAGED"
}
if [ "$CHANGED" = true ]; then
  if [ "$Pkcs12" = true ]; then
    # Modern encryption on OpenSSL 1.1.1 and 3.x alike; the passphrase goes in on fd 3, never argv.
    if ! openssl pkcs12 -export -in "$LEAF" -certfile "$WORK/chain.pem" -inkey "$WORK/key.pem" -name "$CertName" \
      -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -passout fd:3 -out "$WORK/bundle.p12" \
      3<"$WORK/pfxpass" 2>"$WORK/openssl.err"; then
      fail install "could not build the PKCS#12 bundle: $(one_line "$WORK/openssl.err")"
    fi
  fi
  declare -a STAGED_FILES=()
  for i in "${!LIVE[@]}"; do
    stage "${SRC[$i]}" "${LIVE[$i]}" "${MODE[$i]}" "${OWN[$i]}"
    STAGED_FILES+=("$STAGED")
  done
  rm -f -- "$WORK/key.pem" "$WORK/combined.pem" "$WORK/bundle.p12"

  FILES_TOUCHED=1
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    backup=$(backup_of "$dest")
    if [ -e "$backup" ] || [ -L "$backup" ]; then
      log "kept $backup from an interrupted earlier run as the rollback copy"
    elif [ -e "$dest" ]; then
      ln -PT -- "$dest" "$backup" || fail install "could not keep a rollback copy of $dest"
    fi
  done
  for i in "${!LIVE[@]}"; do
    staged_intact "${STAGED_FILES[$i]}" "${OWN[$i]}" "${MODE[$i]}" || fail install "staged file ${STAGED_FILES[$i]} was changed by someone else"
    mv -fT -- "${STAGED_FILES[$i]}" "${LIVE[$i]}" || fail install "could not rename the new file onto ${LIVE[$i]}"
    RENAMED[i]=1
  done
  PENDING=()
  sync -- "$CertDir" "$KeyDir"
  log "installed ${LIVE[*]}"
fi
rm -f -- "$WORK/key.pem" "$WORK/combined.pem" "$WORK/p12.key"


if [ "$CHANGED" = true ]; then
RELOADED=false
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
VERIFIED=false
if [ "$VerifyPort" != 0 ]; then
  STEP=verify
  if ! wait_served "$SERIAL"; then
    if [[ $LAST_SERVED =~ ^[0-9A-F]{1,80}$ ]]; then
      fail verify "127.0.0.1:$VerifyPort serves serial $LAST_SERVED for $VERIFY_SNI, not the new $SERIAL"
    fi
    fail verify "no certificate could be read from 127.0.0.1:$VerifyPort for $VERIFY_SNI within ${verify_seconds}s"
  fi
  VERIFIED=true
  SERVED=$SERIAL
  log "verified: 127.0.0.1:$VerifyPort serves serial $SERIAL for $VERIFY_SNI"
fi
fi # CHANGED

# ---------------------------------------------------------------------------------------------------
# Done: the replaced set becomes <file>.prev; print the result.
STEP=finish
FILES_TOUCHED=0
for dest in "${LIVE[@]}"; do
  backup=$(backup_of "$dest")
  if [ -e "$backup" ] || [ -L "$backup" ]; then
    mv -fT -- "$backup" "$dest.prev" || log "warning: could not keep the previous file as $dest.prev"
  fi
done
sync -- "$CertDir" "$KeyDir" || true

if [ -n "$REMOVED_AT" ] && [ "$REPORT_READY" = 1 ]; then
  # A new export installed after the removal: the target is back.
  rm -f -- "$(tombstone_file)"
fi
if [ -n "$SKIPPED" ]; then report_or_warn skipped
elif [ "$CHANGED" = true ]; then report_or_warn installed
else report_or_warn unchanged; fi

node=${node_id:-$(uname -n)}
names_json=""
for n in "${NAMES[@]}"; do names_json="$names_json${names_json:+,}$(json_str "$n")"; done
extra_files=""
if [ "$CombinedPem" = true ]; then extra_files="$extra_files,\"combined\":$(json_str "$COMBINED_FILE")"; fi
if [ "$Pkcs12" = true ]; then extra_files="$extra_files,\"pkcs12\":$(json_str "$P12_FILE")"; fi
skipped_json=""
if [ -n "$SKIPPED" ]; then
  skipped_json=",\"skipped\":$(json_str "$SKIPPED")"
  if [ -n "$INSTALLED_SERIAL" ]; then
    skipped_json="$skipped_json,\"installedSerial\":$(json_str "$INSTALLED_SERIAL"),\"installedNotAfter\":$(json_str "$INSTALLED_NOT_AFTER")"
  fi
fi
printf '{"node":%s,"certName":%s,"serial":%s,"notAfter":%s,"names":[%s],"files":{"cert":%s,"chain":%s,"fullchain":%s,"key":%s%s},"service":%s,"requestedService":%s,"reloaded":%s,"verified":%s,"changed":%s,"secretVersionId":%s%s}\n' \
  "$(json_str "$node")" "$(json_str "$CertName")" "$(json_str "$SERIAL")" "$(json_str "$NOT_AFTER")" "$names_json" \
  "$(json_str "$CERT_FILE")" "$(json_str "$CHAIN_FILE")" "$(json_str "$FULLCHAIN_FILE")" "$(json_str "$KEY_FILE")" "$extra_files" \
  "$(json_str "$Service")" "$(json_str "$RequestedService")" "$RELOADED" "$VERIFIED" "$CHANGED" "$(json_str "$SecretVersionId")" "$skipped_json"
