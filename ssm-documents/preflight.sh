#!/usr/bin/env bash
# preflight.sh: is this node ready for installs? (the preflight document's program, run by the CLI's
# selftest). Parameters: SSM_SecretId (the stack's canary secret, which holds no key material) and
# SSM_Region, both required. Takes no lock, writes no file, reloads nothing; exit 0 whatever it found
# (10 when a parameter or setting is invalid).
# Output: {"node","action":"preflight","bash","awsCli","openssl","server","secret","missing":[tools]}.

# ---------------------------------------------------------------------------------------------------
# preflight: is this node ready for installs? One JSON line (and one log line): bash, AWS CLI and
# OpenSSL versions, missing tools, the web server found, and whether SecretId (the canary secret) can be
# read and decrypted, as a class only (ok, denied, notfound, error): its value goes to /dev/null and the
# error text is never printed. Takes no lock, writes no file, reloads nothing; exit 0 whatever it found.
report_readiness() {
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

main() {
  set_traps
  # The document's parameters: read_params sets each from SSM_<Name>, else its default (tables in lib/params.sh).
  read_params "SecretId Region" SecretId Region
  check_params
  report_readiness
}

main "$@"
