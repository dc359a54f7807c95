# shellcheck shell=bash
# How a run reports and ends: progress lines, the failure line and its exit code, the EXIT trap that rolls
# back and cleans up. Shared state of a run (globals, set by the programs and the other library files):
#   STEP             the step running now (names the exit code of a failure)
#   REPORTED         set once the failure line was printed
#   WORK             private work directory (removed on exit)
#   PENDING          staged temp files beside the live files, removed on every exit path
#   LIVE             live file paths (a removal: the links it moves aside)
#   FILES_TOUCHED    1 while live files may differ from before the run (a failure then restores them)
#   RELOAD_ATTEMPTED 1 once the web server was told to reload (a rollback then reloads it again)
#   REPORT_READY     1 once the parameters are valid: failures are then reported with the node id (and, for
#                    an install, as inventory)
#   SERVED, LAST_SERVED  serial served on VerifyPort when read / the one wait_served saw last
#   PROBLEM          what is wrong with the live files (report), one line; empty: nothing
#   problems         parameter or preflight problems, one line each
# A program that records failed runs defines record_failure (step); fail and on_exit call it when present.
STEP=parameters
REPORTED=
WORK=
declare -a PENDING=()
declare -a LIVE=()
declare -a PARAMS=()
declare -a problems=()
FILES_TOUCHED=0
RELOAD_ATTEMPTED=0
REPORT_READY=0
SERVED=""
LAST_SERVED=""
PROBLEM=""
ROLLBACK_NOTE=""
# The program's undo (install and remove name rollback, lib/files.sh), run when a run that touched files fails. A
# variable, not a call: a program that changes no file carries none of that code. None named: incomplete.
UNDO=""

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

# A JSON string: json_quote sets JQ, json_str prints it.
json_quote() {
  local s=$1
  # Most values need nothing: one match instead of three substitutions.
  if [[ $s == *[\\\"$'\001'-$'\037']* ]]; then
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//[$'\001'-$'\037']/}
  fi
  JQ="\"$s\""
}
json_str() { json_quote "$1"; printf '%s' "$JQ"; }

# One JSON object on a line: json_obj key value [key value]...; each value a string, or already JSON when its
# key starts with @ (a number, a boolean, an array, an object). Built first and written at once (one write).
json_obj() {
  local out='' IFS=' '
  # No key to take as JSON and no value to escape (the usual case): one printf for every pair.
  if [[ " $*" != *" @"* && $* != *[\\\"$'\001'-$'\037']* ]]; then
    printf -v out ',"%s":"%s"' "$@"
    printf '{%s}\n' "${out#,}"
    # The write's status: a full disk must fail the entry, not leave it empty.
    return $?
  fi
  while [ "$#" -gt 1 ]; do
    if [[ $1 == @* ]]; then out+=",\"${1#@}\":$2"; else json_quote "$2"; out+=",\"$1\":$JQ"; fi
    shift 2
  done
  printf '{%s}\n' "${out#,}"
}

# The failure as one JSON line on stdout too: the agent keeps the start of stdout and cuts stderr's tail when
# the output is long, so the FAILED line can be lost there. Node id only once the parameters are valid.
failure_json() { # step code text
  local node=() text=$3 listed
  if [ "$REPORT_READY" = 1 ]; then node=(node "${node_id:-$HOSTNAME}"); fi
  # Parameter and preflight failures list their problems on lines of their own: the first ones go here.
  if [[ $1 =~ ^(parameters|preflight)$ ]] && [ "${#problems[@]}" -gt 0 ]; then
    listed=$(printf '%s; ' "${problems[@]}")
    listed=${listed%; }
    # The line is cut at 600 characters: the list gives way, so that its end (the count) is always there.
    if [ "$((${#listed} + ${#text} + 2))" -gt 600 ]; then listed="${listed:0:$((595 - ${#text}))}..."; fi
    text="$listed: $text"
  fi
  json_obj "${node[@]}" failedStep "$1" @exitCode "$2" reason "${text:0:600}"
}

fail() {
  local step=$1 code
  shift
  if [ -z "$REPORTED" ] && declare -F fail_if_openssl_too_old >/dev/null; then STEP=$step; fail_if_openssl_too_old; fi
  code=$(step_code "$step")
  REPORTED=1
  set +e
  ROLLBACK_NOTE=""
  if [ "$FILES_TOUCHED" = 1 ] && ! { [ -n "$UNDO" ] && "$UNDO"; }; then code=21; fi
  # Only an install run is recorded as failed: a report or a removal that failed left the entry as it was.
  if declare -F record_failure >/dev/null; then record_failure "$step"; fi
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
    if [ "$FILES_TOUCHED" = 1 ] && ! { [ -n "$UNDO" ] && "$UNDO"; }; then code=21; fi
    if declare -F record_failure >/dev/null; then record_failure "$STEP"; fi
    log "FAILED at $STEP: unexpected error (status $rc near line ${ERR_LINE:-?})$ROLLBACK_NOTE"
    failure_json "$STEP" "$code" "unexpected error (status $rc near line ${ERR_LINE:-?})$ROLLBACK_NOTE"
    rc=$code
  fi
  local f
  for f in "${PENDING[@]}"; do rm -f -- "$f"; done
  # Reads still running in the background (the run failed beside them) end before their directory goes.
  wait
  if [ -n "$WORK" ]; then rm -rf -- "$WORK"; fi
  exit "$rc"
}
set_traps() {
  trap on_exit EXIT
  trap 'ERR_LINE=$LINENO' ERR
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
