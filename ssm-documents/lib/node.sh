# shellcheck shell=bash
# Preflight checks shared by the programs that touch CertName's files (install, report, remove): tools,
# target directories and their trust (header "Directory trust" of install.sh), and the private work
# directory. Each check adds to problems; end_preflight fails the run when there are any. set_paths sets
# CERT_FILE, CHAIN_FILE, FULLCHAIN_FILE, KEY_FILE, COMBINED_FILE, P12_FILE and LIVE.

# The files an install of CertName writes (LIVE: those of this profile, in install order).
set_paths() {
  CERT_FILE="$CertDir/$CertName.crt"
  CHAIN_FILE="$CertDir/$CertName.chain.pem"
  FULLCHAIN_FILE="$CertDir/$CertName.fullchain.pem"
  KEY_FILE="$KeyDir/$CertName.key"
  COMBINED_FILE="$KeyDir/$CertName.combined.pem"
  P12_FILE="$KeyDir/$CertName.p12"
  LIVE=("$CERT_FILE" "$CHAIN_FILE" "$FULLCHAIN_FILE" "$KEY_FILE")
  if [ "${CombinedPem:-false}" = true ]; then LIVE+=("$COMBINED_FILE"); fi
  if [ "${Pkcs12:-false}" = true ]; then LIVE+=("$P12_FILE"); fi
}

check_tools() {
  local tool
  local -a tools=(openssl awk sed grep flock mktemp sync timeout stat date find sha256sum)
  # All found (the usual case): one builtin call, which also remembers where each is.
  hash -- "${tools[@]}" 2>/dev/null && return 0
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || problems+=("$tool is not installed")
  done
}
# OpenSSL older than 1.1.1 lacks options the programs use, so every openssl call then fails: its version is
# asked only when a run fails anyway (end_preflight, fail) or a certificate could not be read (a
# process less on every run). Adds the problem once; fails when there is none.
check_openssl_version() {
  [ -z "${OPENSSL_CHECKED:-}" ] && command -v openssl >/dev/null 2>&1 || return 1
  OPENSSL_CHECKED=1
  ! [[ $(openssl version 2>/dev/null) =~ ^OpenSSL\ (1\.1\.1|[3-9]\.) ]] || return 1
  problems+=("OpenSSL 1.1.1 or later is required (found: $(openssl version 2>/dev/null | tr -c '[:print:]' ' '))")
}
# A failure before any live file was touched, on a node whose openssl is too old: that preflight problem is
# the failure (exit code and line as when it was checked up front).
fail_if_openssl_too_old() {
  [ "$FILES_TOUCHED" != 1 ] && [ "$STEP" != parameters ] && [ "$STEP" != preflight ] || return 0
  problems=()
  check_openssl_version || return 0
  STEP=preflight
  end_preflight
}
check_dir() { # name dir
  local d=$2
  while [ ! -e "$d" ] && [ "$d" != / ]; do
    # A symbolic link to nothing: mkdir -p would fail on it later, with a line that says nothing.
    if [ -L "$d" ]; then problems+=("$1 $2: $d is a symbolic link to a path that does not exist"); return 0; fi
    d=${d%/*}
    d=${d:-/}
  done
  if [ ! -d "$d" ]; then
    problems+=("$1 $2 is not a directory ($d is in the way)")
  elif [ ! -w "$d" ]; then
    problems+=("$1 $2 is not writable")
  fi
}
# What the checks read of a path (type, owner, group, mode, link count, inode, change time, size, link text),
# from one find for many paths instead of one stat or readlink each (a process costs more than the check).
# PATH_INFO[path] is "trust type uid gid mode links inode ctime size mtime/link text", or "-" when the path is
# absent. trust is find's own verdict for the directory-trust walks: T a directory of a trusted uid (root, or this
# uid when not root) closed to group and others, S a sticky world-writable directory of a trusted uid, U anything
# else. Valid until this run changes a path: every change calls paths_changed, which forgets everything read.
declare -gA PATH_INFO=()
declare -ga SCANNED_TREES=() SCAN_NAMES=() SCAN_TREES=()
declare -ga TRUSTED_UIDS=(-uid 0)
# The names scanned since the last change, one a line: one not in PATH_INFO was absent (path_miss).
SCANNED_NAMES=$'\n'
paths_changed() { PATH_INFO=(); SCANNED_TREES=(); SCANNED_NAMES=$'\n'; }
# Reads into PATH_INFO each name (itself) and the count trees after -t, each with what lies below it, to depth 2;
# one find call (exec: no subshell around it; its status does not matter, a missing name is absent).
scan_paths() { # [-t count tree...] name...
  local i=0 p
  local -a trees_=() names_=() found_=() expr_=() q trust_
  if [ "${1:-}" = -t ]; then i=$2; shift 2; trees_=("${@:1:i}"); fi
  names_=("${@:i+1}")
  [ "$#" -gt 0 ] || return 0
  # A name with a newline (a walk's link text) would add other names to that list: those names are marked one by one.
  if [[ ${names_[*]} == *$'\n'* ]]; then
    for p in "${names_[@]}"; do PATH_INFO[$p]=-; done
  elif [ "${#names_[@]}" -gt 0 ]; then
    printf -v p '%s\n' "${names_[@]}"
    SCANNED_NAMES+=$p
  fi
  for p in "${trees_[@]}"; do PATH_INFO[$p]=-; SCANNED_TREES+=("$p"); expr_+=(-path "$p" -o -path "$p/*" -o); done
  q=(-P "${names_[@]}" "${trees_[@]}" -maxdepth 2 \( "${expr_[@]}" -prune \))
  trust_=(\( -type d "${TRUSTED_UIDS[@]}" ! -perm /022 -printf T -o -type d -perm -1002 "${TRUSTED_UIDS[@]}" -printf S -o -printf U \))
  # A path and its fields a line each, read by a command substitution (in blocks: read and mapfile take a pipe a
  # byte per system call) and split on newlines with globbing off. A path or link text with a newline (a start
  # point from a walk's link text, or a name below one) would shift the lines, so that a name could pose as
  # another path: it is not listed but prints a line no path can be ("?"), and the scan is read again with NULs.
  p=$(exec find "${q[@]}" \( \( -path $'*\n*' -o -lname $'*\n*' \) -prune -printf '?\n' -o -printf '%p\n' \
    "${trust_[@]}" -printf ' %y %U %G %m %n %i %C@ %s %T@/%l\n' \) 2>/dev/null) || :
  if [[ $'\n'$p$'\n' == *$'\n?\n'* ]]; then
    mapfile -t -d '' found_ < <(exec find "${q[@]}" -printf '%p\0' "${trust_[@]}" -printf ' %y %U %G %m %n %i %C@ %s %T@/%l\0' 2>/dev/null)
  else
    local - IFS=$'\n'
    set -f
    # shellcheck disable=SC2206 # split on newlines on purpose, globbing off
    found_=($p)
  fi
  for ((i = 0; i + 1 < ${#found_[@]}; i += 2)); do PATH_INFO[${found_[i]}]=${found_[i + 1]}; done
}
# Sets PI_TYPE (f d l ..., "-": absent), PI_UID, PI_GID, PI_MODE, PI_LINKS, PI_INODE, PI_CTIME, PI_SIZE, PI_MTIME
# and PI_LINK (a link's text) for a path (the trust verdict is for trust_clean and our_dir); fails when it is absent. The first miss after a change reads the
# program's usual paths (SCAN_NAMES, SCAN_TREES) at once; a path below a scanned tree that it did not list is
# absent.
path_info() { # path
  [ -n "${PATH_INFO[$1]+set}" ] || path_miss "$1"
  # Nine fields of digits, dots and a type letter (no pattern character), split by the default IFS: a
  # here-string would be read a byte per system call. The link text only for a link: its pattern costs more
  # than the rest of the call.
  # shellcheck disable=SC2086
  set -- "$1" ${PATH_INFO[$1]%%/*}
  PI_TYPE=${3:--} PI_UID=${4-} PI_GID=${5-} PI_MODE=${6-} PI_LINKS=${7-} PI_INODE=${8-} PI_CTIME=${9-} PI_SIZE=${10-} PI_MTIME=${11-} PI_LINK=""
  if [ "$PI_TYPE" = l ]; then PI_LINK=${PATH_INFO[$1]#*/}; fi
  [ "$2" != - ]
}
# A path not read since the last change: the program's usual paths first, then the path alone unless it lies
# below a scanned tree (absent, then).
path_miss() { # path
  local t
  # A name the last scan listed and find did not print is absent: no scan (a trust walk's absent directory
  # never makes a run read its store before it holds the lock).
  if [[ $1 != *$'\n'* && $SCANNED_NAMES == *$'\n'"$1"$'\n'* ]]; then PATH_INFO[$1]=-; return 0; fi
  if [ "${#SCANNED_TREES[@]}" = 0 ] && [ "${#SCAN_TREES[@]}" -gt 0 ]; then
    scan_paths -t "${#SCAN_TREES[@]}" "${SCAN_TREES[@]}" "${SCAN_NAMES[@]}"
  fi
  [ -z "${PATH_INFO[$1]+set}" ] || return 0
  if [[ $1 != *$'\n'* && $SCANNED_NAMES == *$'\n'"$1"$'\n'* ]]; then PATH_INFO[$1]=-; return 0; fi
  for t in "${SCANNED_TREES[@]}"; do
    if [[ $1 == "$t"/* && ${1#"$t"/} != */*/* ]]; then PATH_INFO[$1]=-; return 0; fi
  done
  scan_paths "$1"
  [ -n "${PATH_INFO[$1]+set}" ] || PATH_INFO[$1]=-
}
# The link text of a symbolic link (PI_LINK); fails for anything else.
link_text() { path_info "$1" && [ "$PI_TYPE" = l ]; }
# The state directory's own directories (records, locks, fragments, pending marks, tombstones, the library cache):
# judged like the state directory, since whoever could change one could swap what a run writes there.
STATE_SUBDIRS=(lib locks owned inventory pending removed)
# The directories every trust walk of check_dirs reads (PREFIXES).
trust_prefixes() {
  path_prefixes "$CertDir" "$KeyDir" "${STATE_SUBDIRS[@]/#/$state_dir/}" ${inventory_dir:+"$inventory_dir"} "$hooks_dir"
}
# Every directory a walk from / to the path passes (the path itself included), each once, for one scan_paths.
# The paths passed their patterns: absolute, no empty, . or .. component.
path_prefixes() { # path...
  local p
  local -A seen_=()
  PREFIXES=(/)
  for p in "$@"; do
    while [ -n "$p" ] && [ -z "${seen_[$p]+set}" ]; do seen_[$p]=1; PREFIXES+=("$p"); p=${p%/*}; done
  done
}

# Directory trust: nobody but root (or, when not run as root, the current user) may be able to change
# any directory on the way to the files this run writes, or they could swap a staged file, the lock or a
# rollback link for a symlink between two of this script's steps. Walks the path from / the way the
# kernel resolves it (symlinks followed and checked, their own owner included).
trusted_uid() { [ "$1" = 0 ] || { [ "$IS_ROOT" != 1 ] && [ "$1" = "$MY_UID" ]; }; }
check_tree() { # name path
  local name=$1 rest=${2#/} cur=/ comp next link hops=0 info uid mode sticky=0 who=root
  local -a found=() kept=()  # found: since the walk last (re)started at /, kept: earlier walks
  if [ "$IS_ROOT" != 1 ]; then who="root or uid $MY_UID"; fi
  while :; do
    # cur is a real directory (no symlink in its path); judge it. One that another run created after the scan
    # (an inventory directory, a first install's KeyDir) is read again.
    path_info "$cur" || { scan_paths "$cur" && path_info "$cur"; } || { found+=("cannot inspect $cur"); break; }
    uid=$PI_UID
    mode=$PI_MODE
    sticky=0
    if [ "$sticky_ok" = 1 ] && (( (8#$mode & 01002) == 01002 )) && trusted_uid "$uid"; then
      # Sticky and world-writable (/tmp) and owned by a trusted uid: only the owner of an entry (or of the
      # directory) may rename or remove it, so what is above it no longer matters; what is below it must still
      # pass (header: "Directory trust").
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
        uid='?'
        if path_info "$next"; then uid=$PI_UID; fi
        # Kept whatever the walk meets after it: a sticky directory it then reaches does not make the link safe.
        trusted_uid "$uid" || kept+=("symbolic link $next is owned by uid $uid, not by $who")
        if ! link_text "$next"; then found+=("cannot read symbolic link $next"); break 2; fi
        link=$PI_LINK
        case $link in
          /*) # start again at /, judging it again; what was found so far stands
            kept+=("${found[@]}"); found=(); cur=/; rest=${link#/}${rest:+/$rest}; break ;;
          *) # go on from cur; what was found so far stands too (whoever could change it could change the link)
            kept+=("${found[@]}"); found=(); rest=$link${rest:+/$rest}; continue ;;
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
  # Each once: a walk that meets a link or a directory again (a cycle of links) found the same again.
  local p
  local -A said_=()
  for p in "${kept[@]}" "${found[@]}"; do
    [ -z "${said_[$p]+set}" ] || continue
    said_[$p]=1
    problems+=("$name $2 is not safe to write as uid $MY_UID: $p")
  done
}
# Whether every walk of check_dirs would find nothing, from find's trust verdicts alone: each directory on the way
# is a real directory of a trusted uid closed to others (T), or (sticky_ok) a sticky world-writable one of a trusted
# uid (S) that is not the last directory of a walk (the walk's directory would then be created in it). Anything else (a link, a file in
# the way, an untrusted directory) or a path not read: the walks judge it.
trust_clean() {
  local p t
  for p in "${PREFIXES[@]}"; do
    t=${PATH_INFO[$p]-}
    case $t in
      T*) ;;
      S*) [ "$sticky_ok" = 1 ] || return 1 ;;
      - | '') [[ $SCANNED_NAMES == *$'\n'"$p"$'\n'* ]] || return 1 ;;
      *) return 1 ;;
    esac
  done
  for p in "$state_dir" "${STATE_SUBDIRS[@]/#/$state_dir/}" "$CertDir" "$KeyDir" "$inventory_dir" "$hooks_dir"; do
    [ -n "$p" ] || continue
    while ! path_info "$p" && [ "$p" != / ]; do p=${p%/*}; p=${p:-/}; done
    [[ ${PATH_INFO[$p]-} == T* ]] || return 1
  done
}
# CertDir, KeyDir, the state, inventory and hooks directories: writable, and nobody but root (or the current
# user) can change them. Once a run (the install judges them before its library cache is written).
check_dirs() {
  local hooks_perm d walk=1
  [ -z "${DIRS_CHECKED:-}" ] || return 0
  DIRS_CHECKED=1
  check_dir CertDir "$CertDir"
  check_dir KeyDir "$KeyDir"
  # The directories of the walks below, read at once (unless read already: the install reads them with
  # its library cache, and nothing changed since when / is still known).
  if [ -z "${PATH_INFO[/]+set}" ]; then
    trust_prefixes
    scan_paths "${PREFIXES[@]}"
  fi
  sticky_ok=0
  if [ "$IS_ROOT" != 1 ] || [ "${ACM_EXPORT_ALLOW_STICKY_ANCESTOR:-0}" = 1 ]; then sticky_ok=1; fi
  # The walks below only when a directory on the way is not plainly trusted (they then name what is wrong).
  if trust_clean; then walk=0; fi
  # The state directory (records, the lock, inventory fragments, tombstones, the library cache) and the
  # custom inventory directory: written by every run, so nobody else may change the way to them either.
  if [ "$walk" = 1 ]; then
    d=${#problems[@]}
    check_tree "state directory" "$state_dir"
    # Its own directories once the way to it passed (else each would repeat what is wrong above them).
    if [ "${#problems[@]}" = "$d" ]; then
      for d in "${STATE_SUBDIRS[@]}"; do
        if [ -e "$state_dir/$d" ] || [ -L "$state_dir/$d" ]; then check_tree "state directory" "$state_dir/$d"; fi
      done
    fi
    check_tree CertDir "$CertDir"
    check_tree KeyDir "$KeyDir"
    if [ -n "$inventory_dir" ]; then check_tree "inventory directory" "$inventory_dir"; fi
    # The hooks directory and every directory above it: a hook is run as root, so nobody else may add one.
    check_tree "hooks directory" "$hooks_dir"
  fi
  # A directory of the state directory is never used through a link (state_subdir): refused here, before any change.
  for d in "${STATE_SUBDIRS[@]}"; do
    if [ -L "$state_dir/$d" ]; then problems+=("state directory $state_dir/$d is a symbolic link; refusing to use it"); fi
  done
  if [ "$IS_ROOT" = 1 ] && [ -d "$hooks_dir" ]; then
    hooks_perm=""
    if [ ! -L "$hooks_dir" ] && path_info "$hooks_dir"; then hooks_perm="$PI_UID $PI_MODE"; fi
    hooks_perm=${hooks_perm:-$(stat -L -c '%u %a' -- "$hooks_dir")}
    if [ "${hooks_perm%% *}" != 0 ] || (( 8#${hooks_perm##* } & 8#022 )); then
      problems+=("hooks directory $hooks_dir must be owned by root and not writable by group or others")
    fi
  fi
}
# The private work directory (WORK), once every check passed.
make_work_dir() {
  export AWS_PAGER=""
  [ "${#problems[@]}" -eq 0 ] || return 0
  clean_work_dirs
  WORK=$(exec mktemp -d -t acm-export-work.XXXXXXXX)
}
clean_work_dirs() {
  # A run killed at its execution timeout runs no EXIT trap: its private work directory (which may hold
  # the decrypted key while it waited for the lock) is removed by a later run once it is older than any
  # run can last (the document's step timeout is 600 s).
  # The glob (no process) finds whether there is anything to look at; find judges age and owner.
  local left=("${TMPDIR:-/tmp}"/acm-export-work.*)
  [ ! -e "${left[0]}" ] || find "${TMPDIR:-/tmp}" -mindepth 1 -maxdepth 1 -type d -name 'acm-export-work.*' -user "$MY_UID" -mmin +60 \
    -exec rm -rf -- {} + 2>/dev/null || true
}
end_preflight() {
  local p
  if [ "${#problems[@]}" -gt 0 ]; then
    check_openssl_version || true
    for p in "${problems[@]}"; do log "preflight: $p"; done
    fail preflight "${#problems[@]} problem(s); nothing was changed"
  fi
  # The directories passed their trust checks (try_lock may open the lock file in the state directory).
  if [ -n "${DIRS_CHECKED:-}" ]; then DIRS_TRUSTED=1; fi
}

# One openssl call for what the programs read of a certificate file (builtins parse its output). The ERR trap
# (set -E) keeps bash from running the last command of a subshell in place: exec does, one process less.
# OpenSSL 3's x509 command loads the default CA bundle whether or not it is used (about 20 ms): a read trusts
# nothing, so SSL_CERT_FILE points it at an empty file.
# LEAF_SERIAL (as printed: upper-case hex; '' when not a certificate), LEAF_NOT_AFTER_RAW (openssl's text),
# LEAF_NOT_AFTER (ISO 8601 UTC), LEAF_NAMES (DNS names of the SAN, else the subject CN), LEAF_PUB (its
# public key PEM) and LEAF_EXPIRED (1 when notAfter has passed).
declare -a LEAF_NAMES=()
# A serial as openssl prints it (upper-case hex) and a DNS name as a certificate names it
# (^(\*\.)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$), each bound checked as a length beside an unbounded pattern:
# bash compiles a pattern at every use, and a bound of N costs N copies of its atom.
serial_ok() { [[ $1 =~ ^[0-9A-F]+$ && ${#1} -le 80 ]]; }
dns_name_ok() { local bare=${1#'*.'}; [[ $bare =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ && ${#bare} -le 253 ]]; }
read_leaf() { # file
  local out="" status=0
  out=$(x509_leaf "$1") || status=1
  parse_leaf "$out" "$status"
}
# The openssl call (in a subshell or a background job: it replaces that process).
x509_leaf() { # file
  SSL_CERT_FILE=/dev/null exec openssl x509 -in "$1" -noout -serial -enddate -subject -nameopt multiline \
    -ext subjectAltName -pubkey -checkend 0 2>/dev/null
}
# The LEAF_* variables from what x509_leaf printed and its exit status (not 0: expired,
# or not a certificate, which leaves LEAF_SERIAL empty). Lines split by builtins: a here-string or a pipe
# would be read a byte per system call.
parse_leaf() { # output status
  local rest=$1 line in_pub=0 san="" entry
  LEAF_SERIAL="" LEAF_NOT_AFTER_RAW="" LEAF_NOT_AFTER="" LEAF_PUB="" LEAF_EXPIRED=0 LEAF_CN=""
  LEAF_NAMES=()
  if [ "$2" != 0 ]; then LEAF_EXPIRED=1; fi
  while [ -n "$rest" ]; do
    line=${rest%%$'\n'*}
    if [ "$line" = "$rest" ]; then rest=""; else rest=${rest#*$'\n'}; fi
    if [ "$in_pub" = 1 ]; then
      LEAF_PUB+=$line$'\n'
      [ "$line" != "-----END PUBLIC KEY-----" ] || in_pub=0
      continue
    fi
    case $line in
      serial=*) LEAF_SERIAL=${line#serial=} ;;
      notAfter=*) LEAF_NOT_AFTER_RAW=${line#notAfter=} ;;
      "-----BEGIN PUBLIC KEY-----") LEAF_PUB=$line$'\n' in_pub=1 ;;
      # The entries are on the next line: "DNS:a, DNS:b".
      "X509v3 Subject Alternative Name:"*) san=${rest%%$'\n'*}, ;;
      *commonName*=*) LEAF_CN=${LEAF_CN:-${line##*= }} ;;
    esac
  done
  while [ -n "$san" ]; do
    entry=${san%%,*}
    san=${san#*,}
    entry=${entry#"${entry%%[! ]*}"}
    case $entry in DNS:*) LEAF_NAMES+=("${entry#DNS:}") ;; esac
  done
  if [ "${#LEAF_NAMES[@]}" -eq 0 ] && [ -n "$LEAF_CN" ]; then LEAF_NAMES=("$LEAF_CN"); fi
  iso_time "$LEAF_NOT_AFTER_RAW"
  LEAF_NOT_AFTER=$ISO_TIME
}

# openssl's "Mon DD HH:MM:SS YYYY GMT" as ISO 8601 UTC in ISO_TIME, with builtins and no subshell ('' when it
# is not that form).
iso_time() { # text
  local re='^([A-Z][a-z]{2}) +([0-9]{1,2}) ([0-9:]{8}) ([0-9]{4}) GMT$' m=JanFebMarAprMayJunJulAugSepOctNovDec before
  ISO_TIME=""
  [[ $1 =~ $re ]] || return 0
  before=${m%%"${BASH_REMATCH[1]}"*}
  ((${#before} < 36 && ${#before} % 3 == 0)) || return 0
  printf -v ISO_TIME '%s-%02d-%02dT%sZ' "${BASH_REMATCH[4]}" "$((${#before} / 3 + 1))" "$((10#${BASH_REMATCH[2]}))" "${BASH_REMATCH[3]}"
}
