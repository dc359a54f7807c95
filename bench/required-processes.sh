#!/usr/bin/env bash
# The processes a node run cannot do without, started in the order the node programs start them, with no
# check, parse or decision between them: what is left of a run's time once all of our own shell logic is gone.
# The bench sets it beside the floor (floor-install.sh) to show how much of a goal these processes use up
# before any line of the program runs. Not for use on a node.
#
#   required-processes.sh push     each process, and what requires it:
#     mktemp -d          a private directory for the decrypted key (the floor has it too)
#     find               directory trust: owner and mode of every directory on the way to CertDir, KeyDir
#                        and the state and inventory directories
#     aws, awk           GetSecretValue of the version, its PEM blocks split (the floor too)
#     openssl x 3+links  the leaf read and one verify per chain link (the chain check) in the background,
#                        beside the decrypt (pkcs8: only an encrypted key) and the key's public key
#     flock              runs for one CertName serialized (the lock in the state directory): none meets a
#                        half-written set
#     find               the store as it is (the ownership checks)
#     mkdir x 2          a new version directory on the certificate side and on the key side (the switch)
#     ln                 the key member linked into the certificate-side version
#     find, sha256sum    inode, change time, size and sha256 of the files written (the ownership record)
#     sync, mv           the files and the record on disk, then the record put in place
#     ln, mv, ln, mv     `previous`, then `current` switched, one rename each
#     sync               the switch on disk before the run reports success
#     mv                 the CertName's own entry (the version it holds, for the next run) renamed into place
#     flock, mv          the node's one custom-inventory file, shared by every certificate: rewritten under a
#                        lock, renamed into place
#     rm, rm             the version before the previous one, and the private directory, deleted
#   required-processes.sh report   find (directory trust), flock (the CertName lock), find (the store, read
#                                  under the lock, for the ownership proof: no openssl, the record holds what
#                                  it reads), mv (the CertName's entry), flock and mv (the shared inventory
#                                  file)
#
# Parameters come as the node programs get them (SSM_CertName, SSM_SecretId, SSM_SecretVersionId, SSM_Region,
# SSM_CertDir, SSM_KeyDir); the state and inventory directories as ACM_EXPORT_STATE_DIR and
# ACM_EXPORT_INVENTORY_DIR. Its files lie under <dir>/.required/ and never touch the programs' own.
set -euo pipefail
export SSL_CERT_FILE=/dev/null

name=${SSM_CertName:?}
cert_dir=${SSM_CertDir:?}
key_dir=${SSM_KeyDir:?}
state=${ACM_EXPORT_STATE_DIR:?}
inventory=${ACM_EXPORT_INVENTORY_DIR:?}
store="$cert_dir/.required/$name"
key_store="$key_dir/.required/$name"
stat_format='%p\0%y %U %G %m %n %i %C@ %s\0'

# Every directory on the way from / to CertDir, KeyDir, the state and the inventory directories, for one find.
prefixes=(/)
for dir in "$cert_dir" "$key_dir" "$state" "$inventory"; do
  at="" rest=${dir#/}/
  while [ -n "$rest" ]; do
    part=${rest%%/*}
    rest=${rest#*/}
    if [ -n "$part" ]; then at+=/$part; prefixes+=("$at"); fi
  done
done
trust_walk() { find -P "${prefixes[@]}" -maxdepth 0 -printf "$stat_format" >/dev/null; }
lock_name() {
  exec 9>>"$state/required-locks/$name.lock"
  flock -n 9
}
scan_store() { find -P "$store" "$key_store" -maxdepth 2 -printf "$stat_format" >/dev/null; }
write_inventory() {
  printf '{"CertName":"%s"}\n' "$name" >"$state/.required-entry.new"
  mv -fT -- "$state/.required-entry.new" "$state/required-entry.json"
  exec 8>>"$state/.required-inventory.lock"
  flock -w 30 8
  printf '{"SchemaVersion":"1.0","TypeName":"Custom:Required","Content":[%s]}\n' "$(<"$state/required-entry.json")" \
    >"$inventory/.required.json.new"
  mv -fT -- "$inventory/.required.json.new" "$inventory/required.json"
}
if [ ! -d "$store" ] || [ ! -d "$state/required-locks" ]; then mkdir -p -- "$store" "$key_store" "$state/required-locks"; fi

case ${1:-} in
  push)
    work=$(mktemp -d)
    trap 'rm -rf -- "$work"' EXIT
    trust_walk
    aws secretsmanager get-secret-value --region "${SSM_Region:?}" --secret-id "${SSM_SecretId:?}" \
      --version-id "${SSM_SecretVersionId:?}" --query SecretString --output text >"$work/secret" </dev/null
    awk -v dir="$work" '
      /^-----BEGIN ACM EXPORT PASSPHRASE-----$/ { out = dir "/pass"; body = 1; next }
      /^-----BEGIN CERTIFICATE-----$/ { out = dir "/cert" (++certs) ".pem"; body = 0 }
      /^-----BEGIN ENCRYPTED PRIVATE KEY-----$/ { out = dir "/key.enc"; body = 0 }
      /^-----BEGIN / && out == "" { next }
      out != "" && !(body && /^-----END /) { print > out }
      /^-----END / { out = ""; body = 0 }
    ' "$work/secret"
    certs=("$work"/cert*.pem)
    jobs_started=()
    openssl x509 -in "$work/cert1.pem" -noout -serial -enddate -subject -nameopt multiline -ext subjectAltName \
      -pubkey -checkend 0 >"$work/leaf.txt" &
    jobs_started+=("$!")
    for ((i = 1; i < ${#certs[@]}; i++)); do
      openssl verify -no-CAfile -no-CApath -partial_chain -trusted "$work/cert$((i + 1)).pem" "$work/cert$i.pem" \
        >/dev/null &
      jobs_started+=("$!")
    done
    umask 077
    openssl pkcs8 -in "$work/key.enc" -passin fd:3 -out "$work/key.pem" 3<"$work/pass"
    openssl pkey -in "$work/key.pem" -pubout -out "$work/key.pub"
    for job in "${jobs_started[@]}"; do wait "$job"; done
    lock_name
    scan_store
    printf -v version 'v%(%Y%m%d%H%M%S)T-%s' -1 "$RANDOM$RANDOM"
    mkdir -m 0755 -- "$store/$version"
    mkdir -m 0700 -- "$key_store/$version"
    IFS= read -r -d '' leaf <"$work/cert1.pem" || true
    chain=""
    for ((i = 2; i <= ${#certs[@]}; i++)); do IFS= read -r -d '' pem <"$work/cert$i.pem" || true; chain+=$pem; done
    IFS= read -r -d '' key <"$work/key.pem" || true
    umask 022
    printf '%s' "$leaf" >"$store/$version/cert.pem"
    printf '%s' "$chain" >"$store/$version/chain.pem"
    printf '%s' "$leaf$chain" >"$store/$version/fullchain.pem"
    umask 077
    printf '%s' "$key" >"$key_store/$version/key.pem"
    ln -sT -- "$key_store/$version/key.pem" "$store/$version/key.pem"
    written=("$store/$version/cert.pem" "$store/$version/chain.pem" "$store/$version/fullchain.pem"
      "$key_store/$version/key.pem")
    find -P "${written[@]}" -maxdepth 0 -printf "$stat_format" >/dev/null
    sha256sum -- "${written[@]}" >"$state/.required-record.new"
    sync -- "${written[@]}" "$store/$version" "$key_store/$version" "$state/.required-record.new"
    mv -fT -- "$state/.required-record.new" "$state/required-record"
    # The version `current` names, as noted at the last switch (the programs read it from their store scan).
    old=""
    if [ -f "$state/required-current" ]; then read -r old <"$state/required-current"; fi
    if [ -n "$old" ]; then
      ln -sT -- "$old" "$store/.previous.new"
      mv -fT -- "$store/.previous.new" "$store/previous"
    fi
    ln -sT -- "$version" "$store/.current.new"
    mv -fT -- "$store/.current.new" "$store/current"
    printf '%s\n' "$version" >"$state/required-current"
    sync -- "$store"
    write_inventory
    gone=()
    for dir in "$store"/v*; do
      case ${dir##*/} in "$version" | "$old") ;; *) gone+=("$dir" "$key_store/${dir##*/}") ;; esac
    done
    if [ "${#gone[@]}" -gt 0 ]; then rm -rf -- "${gone[@]}"; fi
    ;;
  report)
    trust_walk
    lock_name
    scan_store
    write_inventory
    ;;
  *)
    echo "usage: required-processes.sh push|report" >&2
    exit 2
    ;;
esac
