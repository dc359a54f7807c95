# shellcheck shell=bash
# Parameters: the rules every value must pass (again: the document's allowedPatterns already checked them),
# the placement policy, the settings that are not parameters, and the paths of the files a CertName owns.
#
# Sets (globals read by the other library files): PARAMS (the names of the program's parameters, which
# the program assigns to variables of those names: CertName, CertDir, ...), problems (what is wrong, one line each), verify_seconds,
# lock_seconds, nginx_conf, inventory_dir, state_dir, hooks_dir, takeover_dir, log_dir, node_id, IS_ROOT, MY_UID.

# Parameter rules of the document's own parameters: RE (pattern), MAX (length), DEFAULT (of those that have
# one) and LARGEST (an integer's upper bound). Generated from lambda/shared/fields.ts: ssm-documents/load.ts
# writes them in place of the next line. Each program reads only the parameters its document declares
# (read_params).
#parameter-rules
# Placement policy (header "Placement"): the stack writes its own ALLOWED_DIRS and ALLOWED_KEY_ACCOUNTS lines
# here when it builds the document (ssm-documents/load.ts); these are the defaults. The FORBIDDEN lists are
# fixed: identical to lambda/shared/placement.ts (a test compares them).
declare -ra ALLOWED_DIRS=('/etc/ssl' '/etc/pki' '/etc/nginx/ssl' '/etc/apache2/ssl' '/etc/httpd/ssl' '/etc/haproxy')
declare -ra ALLOWED_KEY_ACCOUNTS=('root' 'ssl-cert' 'www-data' 'nginx' 'apache' 'haproxy')
declare -ra FORBIDDEN_TREES=('/proc' '/dev' '/sys' '/usr' '/bin' '/sbin' '/lib' '/lib64' '/boot' '/root' '/var/www'
  '/srv/www' '/srv/http' '/usr/share/nginx/html' '/var/lib/nginx/html')
declare -ra FORBIDDEN_EXACT=('/' '/etc' '/var' '/srv' '/opt' '/home' '/tmp' '/run')

# Whether this program declares the parameter.
has_param() { [[ " ${PARAMS[*]} " == *" $1 "* ]]; }

# A rule with a TAIL "L N" (ssm-documents/load.ts: its pattern ends in L[C]{1,N}$, L not in C) is checked as
# L[C]+$ and at most N characters after the last L; one with a PAIR "D A B" (an optional KEY<D>VALUE pair) with +
# and * for its {1,A} and {0,B}, and at most A characters before the first D and B + 2 after it: the same answers,
# without compiling N copies of an atom at every check.
check_param() { # name value
  local name=$1 value=$2 re=${RE[$1]} t=${TAIL[$1]-} p=${PAIR[$1]-} n=0 key
  if [ -n "$t" ]; then re=${re%\{*}+\$; n=${2##*"${t%% *}"}; n=$((${#n} - ${t#* })); fi
  if [ -n "$p" ]; then
    # shellcheck disable=SC2086 # "D A B": three words, none a pattern
    set -- $p
    re=${re/"{1,$2}"/+} re=${re/"{0,$3}"/*} key=${value%%"$1"*}
    if [[ $value == *"$1"* ]] && { [ "${#key}" -gt "$2" ] || [ "$((${#value} - ${#key} - 3))" -gt "$3" ]; }; then n=1; fi
  fi
  if [ "${#value}" -gt "${MAX[$name]}" ] || [ "$n" -gt 0 ] || ! [[ $value =~ $re ]]; then
    problems+=("SSM_$name does not match its allowedPattern ${RE[$name]} (at most ${MAX[$name]} characters)")
  elif [ -n "${LARGEST[$name]-}" ] && [ "$value" -gt "${LARGEST[$name]}" ]; then
    problems+=("SSM_$name must be at most ${LARGEST[$name]}")
  fi
}

# Sets each of the program's parameters from SSM_<Name>, else the document default, and checks it against its
# rule. A required one that is unset means an agent too old for ENV_VAR parameters.
read_params() { # "required names" names...
  local required=" $1 " name var
  local -a missing=()
  shift
  PARAMS=("$@")
  problems=()
  for name in "$@"; do
    var="SSM_$name"
    if [[ $required == *" $name "* ]] && [ -z "${!var+set}" ]; then missing+=("$var"); fi
    printf -v "$name" %s "${!var-${DEFAULT[$name]-}}"
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    fail parameters "${missing[*]} not set: this document passes its parameters as environment variables (interpolationType ENV_VAR), which needs SSM Agent >= 3.3.2746.0; update the agent on this node"
  fi
  for name in "$@"; do check_param "$name" "${!name}"; done
}

# Placement: CertDir and KeyDir inside the stack's allowed directories, the key owned by allowed accounts. A
# directory is at or below another when it is that one, lies below it, or the other is /. The value passed
# its pattern (no space), so the exact list is matched as one string; each test inline, not a call per entry.
check_placement() { # name dir
  local f
  if [[ " ${FORBIDDEN_EXACT[*]} " == *" $2 "* ]]; then
    problems+=("SSM_$1 $2 is never allowed (a system directory, a web root or too broad a parent)")
    return 0
  fi
  # The usual answer (not forbidden, allowed) from one match against each list; the loops name the entry.
  if [ -z "${FORBIDDEN_RE:-}" ]; then
    tree_re "${FORBIDDEN_TREES[@]}"
    FORBIDDEN_RE=$TREE_RE
    tree_re "${ALLOWED_DIRS[@]}"
    ALLOWED_RE=$TREE_RE
  fi
  if ! [[ $2 =~ $FORBIDDEN_RE ]] && [[ $2 =~ $ALLOWED_RE ]]; then return 0; fi
  for f in "${FORBIDDEN_TREES[@]}"; do
    if [[ $f == / || $2 == "$f" || $2 == "$f"/* ]]; then problems+=("SSM_$1 $2 is below $f, which is never allowed (a system directory or a web root)"); return 0; fi
  done
  for f in "${ALLOWED_DIRS[@]}"; do if [[ $f == / || $2 == "$f" || $2 == "$f"/* ]]; then return 0; fi; done
  problems+=("SSM_$1 $2 is not under an allowed directory (${ALLOWED_DIRS[*]})")
}

# A pattern (TREE_RE) matching a path at or below any of the directories ("/" matches every path; none, no
# path). The entries passed the directory pattern: "." is their only pattern character.
tree_re() { # dir...
  # No directory: a pattern that no path (absolute: it starts with /) matches.
  if [ "$#" = 0 ]; then TREE_RE='^[^/]'; return 0; fi
  local -a dirs_=("${@%/}")
  printf -v TREE_RE '|%s' "${dirs_[@]//./[.]}"
  TREE_RE="^(${TREE_RE#|})(/|\$)"
}

# Whether a path matches ^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$: absolute, 1 to 32 components, each a
# name of at most 64 characters. Checked in three cheap parts: bash compiles a regex at every use, and that
# one's nested bounded repeats cost about 9 ms each time (five paths a run).
plain_dir_path() { # path
  local slashes=${1//[!\/]/}
  [[ $1 =~ ^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$ ]] && [ "${#slashes}" -le 32 ] && ! [[ $1 =~ [A-Za-z0-9._-]{65} ]]
}

# The checks beyond the patterns (each only for a declared parameter whose pattern passed), the settings
# that are not parameters, then one failure listing every problem (exit 10, nothing changed).
check_params() {
  local name value p
  # Belt and braces beyond the patterns (each only if the pattern itself passed).
  for name in CertDir KeyDir; do
    has_param "$name" || continue
    if [[ ${!name} =~ ${RE[$name]} ]]; then
      case "${!name}/" in */../* | */./*) problems+=("SSM_$name must not contain . or .. components") ;; esac
    fi
  done
  for name in CertDir KeyDir; do
    has_param "$name" || continue
    # Only a value its pattern and length already accept is judged (and named) here.
    value=${!name}
    if [[ $value =~ ${RE[$name]} ]] && [ "${#value}" -le "${MAX[$name]}" ]; then check_placement "$name" "$value"; fi
  done
  for name in KeyOwner KeyGroup; do
    has_param "$name" || continue
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
  # Not parameters: Run Command sets only SSM_<parameter> variables, so only root's own environment (local
  # mode, tests) can move these.
  hooks_dir=${ACM_EXPORT_HOOKS_DIR:-/etc/acm-export/hooks.d}
  takeover_dir=${ACM_EXPORT_TAKEOVER_DIR:-/etc/acm-export/takeover.d}
  log_dir=${ACM_EXPORT_LOG_DIR:-/var/log/acm-export}
  node_id=${AWS_SSM_INSTANCE_ID:-}
  for name in inventory_dir state_dir hooks_dir takeover_dir log_dir; do
    if [ -n "${!name}" ] && ! plain_dir_path "${!name}"; then
      problems+=("${name^^} must be an absolute directory path without . or .. components")
    fi
  done
  # The default is set after the check above: only a given path is judged there, and the default's hidden
  # last component (.acm-export-state) is one that check refuses.
  if [ -z "$state_dir" ]; then
    if [ -n "$inventory_dir" ]; then state_dir="$inventory_dir/.acm-export-state"; else state_dir=/var/lib/acm-export; fi
  fi
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
  if [ "$EUID" = 0 ]; then IS_ROOT=1; fi
  MY_UID=$EUID
  # The owners a directory on the way may have (lib/node.sh, "Directory trust"), as find tests.
  TRUSTED_UIDS=(-uid 0)
  if [ "$IS_ROOT" != 1 ]; then TRUSTED_UIDS=(\( -uid 0 -o -uid "$MY_UID" \)); fi
}
