#!/usr/bin/env bash
# The floor the benchmark holds the node programs against: the least bash that does the essential work of a
# run, and nothing else (no parameter checks, lock, placement or ownership checks, chain validation, journal,
# rollback, reload or verify). Not for use on a node.
#
#   floor-install.sh install     fetch the secret version, split its PEM blocks, decrypt the key (passphrase
#                                on a file descriptor), check that the key matches the certificate, write
#                                <CertName>.crt, .chain.pem, .fullchain.pem (0644) and .key (0600) and rename
#                                each into place; note the version id beside them (<CertName>.version)
#   floor-install.sh unchanged   an association run on a node that holds the current version: ask which version
#                                is AWSCURRENT (DescribeSecret, no secret value) and compare it with the one
#                                noted at install; no writes
#   floor-install.sh report      read the live certificate's serial and expiry, write one inventory JSON file
#
# Parameters come as the node programs get them (SSM_CertName, SSM_SecretId, SSM_SecretVersionId, SSM_Region,
# SSM_CertDir, SSM_KeyDir), the inventory directory as ACM_EXPORT_INVENTORY_DIR. Only the install needs a
# work directory.
set -euo pipefail
# As the node programs do for their reads: OpenSSL 3 otherwise loads the system CA bundle on each x509 call,
# though nothing here is verified against it.
export SSL_CERT_FILE=/dev/null

name=${SSM_CertName:?}
cert_dir=${SSM_CertDir:?}
cert="$cert_dir/$name.crt"

fetch() {
  aws secretsmanager get-secret-value --region "${SSM_Region:?}" --secret-id "${SSM_SecretId:?}" \
    --version-id "${SSM_SecretVersionId:?}" --query SecretString --output text >"$work/secret" </dev/null
}

# One pass over the secret: the passphrase line, the first certificate, the rest of the chain, the key.
split_secret() {
  awk -v dir="$work" '
    /^-----BEGIN ACM EXPORT PASSPHRASE-----$/ { out = dir "/pass"; body = 1; next }
    /^-----BEGIN CERTIFICATE-----$/ { out = dir (certs++ ? "/chain.pem" : "/cert.pem"); body = 0 }
    /^-----BEGIN ENCRYPTED PRIVATE KEY-----$/ { out = dir "/key.enc"; body = 0 }
    /^-----BEGIN / && out == "" { next }
    out != "" && !(body && /^-----END /) { print > out }
    /^-----END / { out = ""; body = 0 }
  ' "$work/secret"
}

case ${1:-} in
  install)
    work=$(mktemp -d)
    trap 'rm -rf -- "$work"' EXIT
    umask 077
    fetch
    split_secret
    openssl pkey -in "$work/key.enc" -passin fd:3 -out "$work/key.pem" 3<"$work/pass"
    [[ $(openssl pkey -in "$work/key.pem" -pubout) == $(openssl x509 -in "$work/cert.pem" -noout -pubkey) ]] ||
      { echo "floor: the key does not match the certificate" >&2; exit 1; }
    umask 022
    # Written with redirections (no process per file); $(<f) drops the final newline, printf puts it back.
    printf '%s\n' "$(<"$work/cert.pem")" >"$cert.new"
    printf '%s\n' "$(<"$work/chain.pem")" >"$cert_dir/$name.chain.pem.new"
    printf '%s\n' "$(<"$work/cert.pem")" "$(<"$work/chain.pem")" >"$cert_dir/$name.fullchain.pem.new"
    umask 077
    key="${SSM_KeyDir:?}/$name.key"
    printf '%s\n' "$(<"$work/key.pem")" >"$key.new"
    for f in "$cert" "$cert_dir/$name.chain.pem" "$cert_dir/$name.fullchain.pem" "$key"; do
      mv -f -- "$f.new" "$f"
    done
    printf '%s\n' "$SSM_SecretVersionId" >"$cert_dir/$name.version"
    ;;
  unchanged)
    stages=$(aws secretsmanager describe-secret --region "${SSM_Region:?}" --secret-id "${SSM_SecretId:?}" \
      --query VersionIdsToStages --output json </dev/null)
    read -r held <"$cert_dir/$name.version"
    [[ ${stages//$'\n'/ } =~ \"$held\"\ *:\ *\[[^]]*\"AWSCURRENT\" ]] ||
      { echo "floor: the version installed here is not the current one" >&2; exit 1; }
    ;;
  report)
    dates=$(openssl x509 -in "$cert" -noout -serial -enddate)
    serial=${dates%%$'\n'*}
    serial=${serial#serial=}
    not_after=${dates#*notAfter=}
    printf '{"certName":"%s","serial":"%s","notAfter":"%s"}\n' "$name" "$serial" "$not_after" \
      >"${ACM_EXPORT_INVENTORY_DIR:?}/.$name.json.new"
    mv -f -- "$ACM_EXPORT_INVENTORY_DIR/.$name.json.new" "$ACM_EXPORT_INVENTORY_DIR/$name.json"
    ;;
  *)
    echo "usage: floor-install.sh install|unchanged|report" >&2
    exit 2
    ;;
esac
