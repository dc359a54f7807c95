# shellcheck shell=bash
# Deploy hooks (header "Hooks" of install.sh): their output kept on the node, a redacted summary shown.
HOOK_SECONDS=120

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
# not hex, such as a serial), runs of two or more colon-separated hex octets and indented lines of octets (a
# key dumped as text) and every path under KeyDir replaced.
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
      # A key dumped by openssl -text (its primes, exponents, coefficient): colon-separated hex octets.
      while (match(text, /[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f:]*/)) {
        out = out substr(text, 1, RSTART - 1) "[withheld]"
        text = substr(text, RSTART + RLENGTH)
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
    # The last line of such a dump: an indented octet or two.
    /^ +[0-9A-Fa-f][0-9A-Fa-f](:[0-9A-Fa-f][0-9A-Fa-f])*:? *$/ { keep("[withheld]"); next }
    { keep(masked($0)) }
    END { for (i = (n > 3 ? n - 3 : 0); i < n; i++) printf "%s\"%s\"", (i > (n > 3 ? n - 3 : 0) ? " | " : ""), last[i % 3] }
  ' "$1" 2>/dev/null || true)
  if [ -n "$lines" ]; then
    printf 'last output (redacted; all of it in %s/hooks.log): %s' "$log_dir" "$lines"
  else
    printf 'no output'
  fi
}
