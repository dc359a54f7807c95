# shellcheck shell=bash
# The files of CertName on this node (header "Files" and "Ownership" of install.sh): a store of versions
# behind one `current` link that a single rename switches, the stable names server configurations use (links
# into `current`), the ownership record, the adoption of an install made by the previous layout, and the
# rollback. Every link this file follows was created by it and is checked (exact target text, real
# directories owned by this uid) before it is followed.

MEMBERS=(cert.pem chain.pem fullchain.pem key.pem)
# -g: the install program sources this file from a function (lib/library.sh), where a plain declare is local.
declare -gA STABLE=() LINK_TO=()

# Paths of the store, the stable name of each member (STABLE) and what its link points at (LINK_TO), the
# members this profile writes (MEMBERS) and their stable names (LINKS). Called after set_paths.
set_store() {
  STORE="$CertDir/.acm-export/$CertName"
  KSTORE="$KeyDir/.acm-export/$CertName"
  OWNED="$state_dir/owned/$CertName"
  local rel=".acm-export/$CertName" key_base="$STORE" m
  # Same directory: the key link stays relative, so the set can be moved or mounted elsewhere as a whole.
  if [ "$KSTORE" = "$STORE" ]; then key_base=$rel; fi
  STABLE=([cert.pem]=$CERT_FILE [chain.pem]=$CHAIN_FILE [fullchain.pem]=$FULLCHAIN_FILE [key.pem]=$KEY_FILE
    [combined.pem]=$COMBINED_FILE [bundle.p12]=$P12_FILE)
  for m in "${ALL_MEMBERS[@]}"; do
    if key_side "$m"; then LINK_TO[$m]=$key_base/current/$m; else LINK_TO[$m]=$rel/current/$m; fi
  done
  MEMBERS=(cert.pem chain.pem fullchain.pem key.pem)
  if [ "${CombinedPem:-false}" = true ]; then MEMBERS+=(combined.pem); fi
  if [ "${Pkcs12:-false}" = true ]; then MEMBERS+=(bundle.p12); fi
  LINKS=()
  for m in "${MEMBERS[@]}"; do LINKS+=("${STABLE[$m]}"); done
}
# Members on the KeyDir side.
key_side() { case $1 in key.pem | combined.pem | bundle.p12) return 0 ;; esac; return 1; }
ALL_MEMBERS=(cert.pem chain.pem fullchain.pem key.pem combined.pem bundle.p12)

# Test-only kill points: ACM_EXPORT_TEST_KILL_AT=N makes the run kill itself (SIGKILL, no trap runs) at its
# N-th file operation, to prove that no step leaves a certificate with a key that does not match it. Unset
# (as on every real node): a counter and nothing else.
KILL_COUNT=0
kill_point() {
  KILL_COUNT=$((KILL_COUNT + 1))
  if [ "${ACM_EXPORT_TEST_KILL_AT:-0}" = "$KILL_COUNT" ]; then kill -KILL $$; fi
}

# A directory this run may write in and follow: a real directory (no link) owned by this uid, not writable by
# group or others.
our_dir() {
  local info
  [ -d "$1" ] && [ ! -L "$1" ] && info=$(stat -c '%u %a' -- "$1" 2>/dev/null) &&
    [ "${info% *}" = "$MY_UID" ] && ! (( 8#${info#* } & 8#022 ))
}
# A regular file, not a link to one.
plain_file() { [ -f "$1" ] && [ ! -L "$1" ]; }
VERSION_RE='^v[0-9]{14}-[A-Za-z0-9]{8}$'
# The version a store link (current, previous) names, once it and the version are verified as ours.
store_version() { # current|previous
  local t
  [ -L "$STORE/$1" ] || return 1
  t=$(readlink -- "$STORE/$1") || return 1
  [[ $t =~ $VERSION_RE ]] && version_ok "$t" && printf '%s' "$t"
}
# A complete version: real directories of ours, regular member files, key members linked to their own
# version directory in KeyDir and nowhere else.
version_ok() { # version
  local v=$1 m
  our_dir "$STORE" && our_dir "$STORE/$v" || return 1
  if [ "$KSTORE" != "$STORE" ]; then our_dir "$KSTORE" && our_dir "$KSTORE/$v" || return 1; fi
  for m in cert.pem chain.pem fullchain.pem key.pem; do member_ok "$v" "$m" || return 1; done
}
member_ok() { # version member
  local in="$STORE/$1/$2"
  if key_side "$2" && [ "$KSTORE" != "$STORE" ]; then
    [ -L "$in" ] && [ "$(readlink -- "$in")" = "$KSTORE/$1/$2" ] || return 1
    in="$KSTORE/$1/$2"
  fi
  plain_file "$in"
}
# Where a member of a version really is (no link left to follow).
member_path() { # version member
  if key_side "$2" && [ "$KSTORE" != "$STORE" ]; then printf '%s' "$KSTORE/$1/$2"; else printf '%s' "$STORE/$1/$2"; fi
}
# The live certificate (through the verified current version), for the inventory and the idempotency check.
live_member() { # member
  local v
  v=$(store_version current) && member_ok "$v" "$1" && member_path "$v" "$1"
}

# What a stable name (or its .prev name) is: ours (our link, or absent), legacy (a regular file that the
# previous layout may have written) or foreign (anything else). Prints the state.
name_state() { # name expected-target
  if [ -L "$1" ]; then
    if [ "$(readlink -- "$1")" = "$2" ]; then echo ours; else echo foreign; fi
  elif [ ! -e "$1" ]; then
    echo absent
  elif [ -f "$1" ]; then
    echo file
  else
    echo foreign
  fi
}
# Our link: a link whose text is exactly the expected target.
our_link() { [ -L "$1" ] && [ "$(readlink -- "$1")" = "$2" ]; }
prev_target() { printf '%s' "${1/\/current\//\/previous\/}"; }

# The record of what acm-export installed for CertName: certificate name, secret, version, the store's
# version and the sha256 of each member. Written atomically (temp file + rename) under the state directory.
record_field() { # name
  plain_file "$OWNED" || return 0
  sed -n "s/^$1=//p" -- "$OWNED" | head -n1
}
write_record() { # version [adopted]
  local dir="$state_dir/owned" tmp m orig
  (umask 022 && mkdir -p -- "$dir") || return 1
  tmp=$(mktemp -- "$dir/.$CertName.XXXXXXXX") || return 1
  {
    printf 'CertName=%s\nSecretId=%s\nSecretVersionId=%s\nCertDir=%s\nKeyDir=%s\nVersion=%s\nWrittenAt=%s\n' \
      "$CertName" "$SecretId" "${SecretVersionId:-$(record_field SecretVersionId)}" "$CertDir" "$KeyDir" "$1" "$(date -u +%s)"
    for m in "${ALL_MEMBERS[@]}"; do
      if member_ok "$1" "$m" 2>/dev/null; then printf 'Sha256:%s=%s\n' "$m" "$(sha256sum -- "$(member_path "$1" "$m")" | cut -c1-64)"; fi
    done
    for orig in "$STORE/original/"* "$KSTORE/original/"*; do
      if plain_file "$orig"; then printf 'Original=%s\n' "$orig"; fi
    done
  } >"$tmp" && chmod 0600 -- "$tmp" && sync -- "$tmp" && mv -fT -- "$tmp" "$OWNED" && return 0
  rm -f -- "$tmp"
  return 1
}

# The previous layout (plain files at the stable names, <name>.prev copies, no record) is adopted only
# when its own state proves it wrote them: this CertName's inventory entry in the state directory names the
# same SecretId and the serial of the certificate file at CertDir/<CertName>.crt.
legacy_proven() {
  local frag="$state_dir/inventory/$CertName.json" serial
  [ ! -e "$OWNED" ] && plain_file "$frag" && [ "$(fragment_field SecretId)" = "$SecretId" ] || return 1
  plain_file "$CERT_FILE" || return 1
  serial=$(openssl x509 -in "$CERT_FILE" -noout -serial 2>/dev/null | sed 's/^serial=//') || return 1
  [ -n "$serial" ] && [ "$serial" = "$(fragment_field Serial)" ]
}

# Refuses, before anything is changed, every stable or .prev name this run would replace or delete that it
# did not write. Sets ADOPT=1 when the names hold a proven install of the previous layout, TAKEOVER to the
# plain files at stable names that the operator's takeover file lets this run take over.
check_names() { # verb
  local i d name target state
  local -a files=()
  ADOPT=0
  TAKEOVER=()
  if [ -L "$CertDir/.acm-export" ] || [ -L "$STORE" ] || [ -L "$KeyDir/.acm-export" ] || [ -L "$KSTORE" ]; then
    fail install "$STORE or $KSTORE is a symbolic link; refusing to $1 anything through it (nothing was changed)"
  fi
  for d in "$CertDir/.acm-export" "$STORE" "$KeyDir/.acm-export" "$KSTORE"; do
    if [ -e "$d" ] && ! our_dir "$d"; then fail install "$d is not a directory of uid $MY_UID closed to others; refusing to $1 through it (nothing was changed)"; fi
  done
  for i in "${!ALL_MEMBERS[@]}"; do
    name=${STABLE[${ALL_MEMBERS[$i]}]}
    target=${LINK_TO[${ALL_MEMBERS[$i]}]}
    for state in "$name:$target" "$name.prev:$(prev_target "$target")"; do
      case $(name_state "${state%%:*}" "${state#*:}") in
        ours | absent) ;;
        file)
          # A regular file: our own only when it is the same file as a member of the current version (an
          # adoption that was interrupted), or part of a proven install of the previous layout.
          if same_as_member "${state%%:*}"; then continue; fi
          # .prev names first: they are never taken over.
          if [ "${state%%:*}" = "$name" ]; then files+=("$name"); else files=("$name.prev" "${files[@]}"); fi ;;
        *)
          if [ -L "${state%%:*}" ]; then fail install "${state%%:*} is a symbolic link acm-export did not create; refusing to $1 it (nothing was changed)"; fi
          fail install "${state%%:*} is not a regular file; refusing to $1 it (nothing was changed)" ;;
      esac
    done
  done
  if [ "${#files[@]}" -gt 0 ]; then
    if legacy_proven; then
      ADOPT=1
      return 0
    fi
    d=""
    if [[ ${files[0]} != *.prev ]]; then
      if takeover_ok; then TAKEOVER=("${files[@]}"); return 0; fi
      d="; $takeover_dir/$CertName would let acm-export take it over"
    fi
    fail install "${files[0]} is a file acm-export did not write (no record of it on this node); refusing to $1 it (nothing was changed$d)"
  fi
}
# The operator's takeover file for CertName (header "Ownership"): when it is present, it and the directories
# up to it are checked like the hooks directory; any problem fails the run at preflight (nothing changed).
takeover_ok() {
  local t="$takeover_dir/$CertName" info
  [ -e "$t" ] || [ -L "$t" ] || return 1
  check_tree "takeover directory" "$takeover_dir"
  info=$(stat -c '%u %a' -- "$t")
  plain_file "$t" && trusted_uid "${info% *}" && ! ((8#${info#* } & 8#022)) ||
    problems+=("takeover file $t must be a regular file owned by root and not writable by group or others")
  end_preflight
}
# Keeps a file acm-export replaces as the original (a hard link in the store), put back by remove.
keep_original() { # file
  local v="$KSTORE/original"
  if [ "${1%/*}" = "$CertDir" ]; then v="$STORE/original"; fi
  (umask 077 && mkdir -p -- "$v") && ln -PT -- "$1" "$v/${1##*/}" 2>/dev/null || [ "$1" -ef "$v/${1##*/}" ] ||
    fail install "could not keep $1 as the original file"
}
# Originals kept in the store go back to their names where nothing is left (remove; the rollback of a first
# install that took them over): hard links, so the store keeps them until it is deleted (a removal that fails
# puts its links back over them).
put_back_originals() {
  local orig dest
  for orig in "$STORE/original/"* "$KSTORE/original/"*; do
    plain_file "$orig" || continue
    dest="$KeyDir/${orig##*/}"
    if [ "${orig%/*}" = "$STORE/original" ]; then dest="$CertDir/${orig##*/}"; fi
    dest=${dest%.prev}
    if [ ! -e "$dest" ] && [ ! -L "$dest" ] && ln -PT -- "$orig" "$dest"; then log "restored the original $dest"; fi
  done
}
# A regular file at a stable or .prev name that is the very file (same inode) of a verified version member.
same_as_member() { # name
  local n=${1%.prev} link=current m v
  if [ "$n" != "$1" ]; then link=previous; fi
  v=$(store_version "$link") || return 1
  for m in "${ALL_MEMBERS[@]}"; do
    if [ "${STABLE[$m]}" = "$n" ]; then member_ok "$v" "$m" && [ "$1" -ef "$(member_path "$v" "$m")" ]; return; fi
  done
  return 1
}

# Directories of the store: CertDir side 0755, KeyDir side like KeyDir (0700, or 0710 with the key's group).
store_dirs() {
  local d
  for d in "$CertDir/.acm-export" "$STORE"; do
    if [ ! -d "$d" ]; then mkdir -m 0755 -- "$d" || fail install "could not create $d"; fi
    our_dir "$d" || fail install "$d is not a directory of uid $MY_UID closed to others"
  done
  for d in "$KeyDir/.acm-export" "$KSTORE"; do
    case $d in "$CertDir/.acm-export" | "$STORE") continue ;; esac
    if [ ! -d "$d" ]; then key_store_dir "$d"; fi
    our_dir "$d" || fail install "$d is not a directory of uid $MY_UID closed to others"
  done
}
key_store_dir() { # dir: created 0700, or 0710 with the key's group
  mkdir -m 0700 -- "$1" || fail install "could not create $1"
  if [ -n "${KEY_DIR_GROUP:-}" ]; then chgrp -h -- "$KEY_DIR_GROUP" "$1" && chmod 0710 -- "$1"; fi
}
# A new, empty version directory on each side (sets NEW_VERSION).
new_version() {
  local dir
  dir=$(mktemp -d -- "$STORE/v$(date -u +%Y%m%d%H%M%S)-XXXXXXXX") || fail install "could not create a version directory in $STORE"
  NEW_VERSION=${dir##*/}
  chmod 0755 -- "$dir"
  if [ "$KSTORE" != "$STORE" ]; then key_store_dir "$KSTORE/$NEW_VERSION"; fi
  kill_point
}
# Writes one member of NEW_VERSION: created exclusively, owner and mode set, checked, synced.
put_member() { # src member mode uid:gid
  local dest
  dest=$(member_path "$NEW_VERSION" "$2")
  (set -C && cat -- "$1" >"$dest") || fail install "could not write $dest"
  if [ "$IS_ROOT" = 1 ]; then chown -h "$4" -- "$dest"; elif [ "${4#*:}" != "$(id -g)" ]; then chgrp -h -- "${4#*:}" "$dest"; fi
  chmod "$3" -- "$dest"
  staged_intact "$dest" "$4" "$3" || fail install "$dest was changed by someone else while it was written"
  if [ "$dest" != "$STORE/$NEW_VERSION/$2" ]; then ln -sT -- "$dest" "$STORE/$NEW_VERSION/$2"; fi
}
# A link created or replaced in one rename (never seen half-made): link text, name.
put_link() { # target name
  local tmp="${2%/*}/.${2##*/}.acm-export-link.$$"
  rm -f -- "$tmp"
  ln -sT -- "$1" "$tmp" && mv -fT -- "$tmp" "$2" && return 0
  rm -f -- "$tmp"
  return 1
}
staged_intact() { # file uid:gid mode
  [ ! -L "$1" ] && [ -f "$1" ] && [ "$(stat -c '%u:%g:%a:%h' -- "$1")" = "$2:${3#0}:1" ]
}

# The switch: `current` (and `previous`) renamed onto a new link in one rename each; either version is a
# complete, matching set, so whichever an observer (a reload, a crash, a reboot) sees is consistent.
switch_to() { # link version|''
  if [ -n "$2" ]; then
    put_link "$2" "$STORE/$1" || return 1
  else
    rm -f -- "$STORE/$1" || return 1
  fi
  sync -- "$STORE" 2>/dev/null || true
  kill_point
}
# The stable names (and their .prev names once there is a previous version) as links into the store, made
# once; a regular file there that is the same file as the current member (adoption) is replaced by the link.
put_stable_links() {
  local m name prev
  prev=$(store_version previous || true)
  for m in "${MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if ! our_link "$name" "${LINK_TO[$m]}"; then
      put_link "${LINK_TO[$m]}" "$name" || fail install "could not create the link $name"
      kill_point
    fi
    if [ -n "$prev" ] && member_ok "$prev" "$m" && ! our_link "$name.prev" "$(prev_target "${LINK_TO[$m]}")"; then
      put_link "$(prev_target "${LINK_TO[$m]}")" "$name.prev" || fail install "could not create the link $name.prev"
      kill_point
    fi
  done
}
# Links of members this profile no longer writes (e.g. CombinedPem turned off) would dangle: removed.
drop_stale_links() {
  local m name
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if our_link "$name" "${LINK_TO[$m]}" && [ ! -e "$name" ]; then rm -f -- "$name"; fi
    if our_link "$name.prev" "$(prev_target "${LINK_TO[$m]}")" && [ ! -e "$name.prev" ]; then rm -f -- "$name.prev"; fi
  done
}
# Removes what runs that were killed left behind and every version but current and previous (only names
# this file writes: version directories and link temp names).
store_gc() {
  local keep1 keep2 d
  keep1=$(store_version current || true)
  keep2=$(store_version previous || true)
  for d in "$STORE"/v* "$KSTORE"/v*; do
    [[ ${d##*/} =~ $VERSION_RE ]] || continue
    case ${d##*/} in "$keep1" | "$keep2") continue ;; esac
    [ -d "$d" ] && [ ! -L "$d" ] && rm -rf -- "$d"
  done
  rm -f -- "$STORE"/.current.acm-export-link.* "$STORE"/.previous.acm-export-link.* \
    "$CertDir"/."$CertName".*.acm-export-link.* "$KeyDir"/."$CertName".*.acm-export-link.* 2>/dev/null || true
}

# Adoption of an install made by the previous layout (proven by legacy_proven): its files become a version
# of the store without being copied (hard links), so every stable name keeps naming the same bytes until
# the switch. Its .prev files are the previous version when .prev certificate has the live certificate's
# names (an earlier renewal), else the originals that layout replaced: kept in the store and put back by
# remove.
adopt_legacy() {
  local m name names_now names_prev
  store_dirs
  names_now=$(dns_names "$CERT_FILE")
  names_prev=$(dns_names "$CERT_FILE.prev" || true)
  if [ -f "$CERT_FILE.prev" ] && [ -n "$names_prev" ] && [ "$names_prev" = "$names_now" ] && [ -f "$KEY_FILE.prev" ]; then
    new_version
    for m in "${ALL_MEMBERS[@]}"; do legacy_link "${STABLE[$m]}.prev" "$m"; done
    version_ok "$NEW_VERSION" || fail install "could not adopt the previous files of $CertName"
    switch_to previous "$NEW_VERSION"
  else
    for m in "${ALL_MEMBERS[@]}"; do
      if plain_file "${STABLE[$m]}.prev"; then keep_original "${STABLE[$m]}.prev"; fi
    done
  fi
  new_version
  for m in "${ALL_MEMBERS[@]}"; do legacy_link "${STABLE[$m]}" "$m"; done
  version_ok "$NEW_VERSION" || fail install "the files of $CertName at the stable names are not a complete set; nothing was adopted"
  switch_to current "$NEW_VERSION"
  write_record "$NEW_VERSION" || fail install "could not write $OWNED"
  # The stable names become links to the same files; the .prev copies go (kept in the store above).
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if plain_file "$name"; then put_link "${LINK_TO[$m]}" "$name" || fail install "could not replace $name by its link"; kill_point; fi
    if plain_file "$name.prev"; then rm -f -- "$name.prev"; fi
  done
  log "adopted the files of the previous acm-export layout for $CertName into $STORE"
}
# The DNS names of a certificate file, sorted, one per line.
dns_names() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' | sed -n 's/^[[:space:]]*DNS://p' | sort -u; }
legacy_link() { # file member: hard link of a regular file into NEW_VERSION
  local dest
  plain_file "$1" || return 0
  dest=$(member_path "$NEW_VERSION" "$2")
  ln -PT -- "$1" "$dest" || fail install "could not adopt $1"
  if [ "$dest" != "$STORE/$NEW_VERSION/$2" ]; then ln -sT -- "$dest" "$STORE/$NEW_VERSION/$2"; fi
}

# Rollback of an install: `current` and `previous` renamed back, the record put back, links this run
# created removed, the new version deleted. Returns non-zero if that could not be done.
restore_store() {
  local ok=0
  switch_to current "$OLD_VERSION" || ok=1
  switch_to previous "$OLD_PREVIOUS" || ok=1
  # Links that now name nothing (a first install, or .prev names of a first replacement) go.
  drop_stale_links
  put_back_originals
  if [ -f "$WORK/owned.before" ]; then mv -fT -- "$WORK/owned.before" "$OWNED" || ok=1; else rm -f -- "$OWNED"; fi
  store_gc
  return "$ok"
}

# Removal: put the stable links moved aside back (the server still needs them).
backup_of() { printf '%s/.%s.acm-export-rollback' "${1%/*}" "${1##*/}"; }
restore_files() {
  local i dest backup ok=0
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    backup=$(backup_of "$dest")
    if [ -L "$backup" ]; then mv -fT -- "$backup" "$dest" || ok=1; fi
  done
  return "$ok"
}

# Undo whatever this run changed: files first, then the server if it was reloaded. Prints a suffix
# for the failure line.
rollback() {
  local note="" incomplete=0 restored=0
  if [ "$FILES_TOUCHED" = 1 ]; then
    if [ "${STORE_SWITCHED:-0}" = 1 ]; then restore_store && restored=1; else restore_files && restored=1; fi
    if [ "$restored" = 1 ]; then
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
