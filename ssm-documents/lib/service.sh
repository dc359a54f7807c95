# shellcheck shell=bash
# The web server: which one runs, its configuration test and reload, and the serial it serves.
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

# The SNI name the served-serial check sends for a certificate's first DNS name (VERIFY_SNI; a wildcard gets
# a concrete name below it).
sni_for() { # name
  if [[ $1 == \*.* ]]; then VERIFY_SNI="acm-export-verify.${1#\*.}"; else VERIFY_SNI=$1; fi
}
served_serial() {
  (timeout 5 openssl s_client -connect "127.0.0.1:$VerifyPort" -servername "$VERIFY_SNI" </dev/null 2>/dev/null || true) |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' || true
}
# Waits (up to ACM_EXPORT_VERIFY_SECONDS) until 127.0.0.1:VerifyPort serves the given serial on 3 connections
# in a row, 0.1 s apart: after a graceful reload the old workers still accept connections for a moment, so
# one connection that sees the new serial does not prove that the next one will. LAST_SERVED: the serial
# seen last.
wait_served() { # serial
  local deadline=$((SECONDS + verify_seconds)) held=0
  while :; do
    LAST_SERVED=$(served_serial)
    if [ "$LAST_SERVED" = "$1" ]; then
      held=$((held + 1))
      [ "$held" -lt 3 ] || return 0
      sleep 0.1
    else
      held=0
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 0.05
    fi
  done
}

# Service=auto: the one web server this node runs, found before anything changes (see install.sh's header).
# RequestedService keeps the parameter as given.
server_running() { # name: on PATH, and an active systemd unit or a process of that name
  command -v "$1" >/dev/null 2>&1 || return 1
  { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1.service"; } ||
    pgrep -x "$1" >/dev/null 2>&1
}
resolve_service() {
  local web
  local -a running=()
  RequestedService=$Service
  [ "$Service" = auto ] || return 0
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
}
# The named server's own tools must be on PATH (APACHECTL: the one found).
check_service_tools() {
  case $Service in
    nginx) command -v nginx >/dev/null 2>&1 || problems+=("Service=nginx but nginx is not on PATH") ;;
    apache2 | httpd)
      APACHECTL=$(command -v apachectl || command -v apache2ctl || true)
      [ -n "$APACHECTL" ] || problems+=("Service=$Service but apachectl is not on PATH") ;;
  esac
}
