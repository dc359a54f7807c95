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
  # What the checks below read, in one scan after each change (path_info, lib/node.sh).
  SCAN_NAMES=("$CertDir/.acm-export" "$KeyDir/.acm-export")
  for m in "${ALL_MEMBERS[@]}"; do SCAN_NAMES+=("${STABLE[$m]}" "${STABLE[$m]}.prev"); done
  SCAN_TREES=("$STORE")
  if [ "$KSTORE" != "$STORE" ]; then SCAN_TREES+=("$KSTORE"); fi
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
  # find's trust verdict T (lib/node.sh, scan_paths): a directory of a trusted uid closed to others; ours: this uid.
  [ -n "${PATH_INFO[$1]+set}" ] || path_miss "$1"
  [[ ${PATH_INFO[$1]} == "T d $MY_UID "* ]] && [ -d "$1" ] && [ ! -L "$1" ]
}
# A regular file, not a link to one.
plain_file() { [ -f "$1" ] && [ ! -L "$1" ]; }
VERSION_RE='^v[0-9]{14}-[A-Za-z0-9]{8}$'
# The version a store link (current, previous) names (SV, '' when none), once it and the version are
# verified as ours. Kept with what the scan read (PATH_INFO[sv:<link>]): verified once until the next change.
store_version() { # current|previous
  local t
  SV=${PATH_INFO[sv:$1]-}
  if [ -z "${PATH_INFO[sv:$1]+set}" ]; then
    if [ -L "$STORE/$1" ] && link_text "$STORE/$1"; then
      t=$PI_LINK
      if [[ $t =~ $VERSION_RE ]] && version_ok "$t"; then SV=$t; fi
    fi
    PATH_INFO[sv:$1]=$SV
  fi
  [ -n "$SV" ]
}
# The version name a store link holds (RL), checked for its form only ('' when none): what a rollback puts
# back and garbage collection keeps, whether or not that version verifies (a version written for another
# KeyDir, a snapshot of taken-over files).
raw_version_link() { # current|previous
  RL=""
  if link_text "$STORE/$1" && [[ $PI_LINK =~ $VERSION_RE ]]; then RL=$PI_LINK; fi
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
    [ -L "$in" ] && link_text "$in" && [ "$PI_LINK" = "$KSTORE/$1/$2" ] || return 1
    in="$KSTORE/$1/$2"
  fi
  plain_file "$in"
}
# Where a member of a version really is (MP; no link left to follow).
member_path() { # version member
  if key_side "$2" && [ "$KSTORE" != "$STORE" ]; then MP="$KSTORE/$1/$2"; else MP="$STORE/$1/$2"; fi
}
# The live file of a member (LM), through the verified current version; for the inventory and the checks. Kept
# with what the scan read (PATH_INFO[lm:<member>]) until the next change.
live_member() { # member
  LM=${PATH_INFO[lm:$1]-}
  if [ -z "${PATH_INFO[lm:$1]+set}" ]; then
    if store_version current && member_ok "$SV" "$1" && member_path "$SV" "$1"; then LM=$MP; fi
    PATH_INFO[lm:$1]=$LM
  fi
  [ -n "$LM" ]
}

# What a stable name (or its .prev name) is: ours (our link, or absent), legacy (a regular file that the
# previous layout may have written) or foreign (anything else). Sets NS to the state.
name_state() { # name expected-target
  if [ -L "$1" ]; then
    if link_text "$1" && [ "$PI_LINK" = "$2" ]; then NS=ours; else NS=foreign; fi
  elif [ ! -e "$1" ]; then
    NS=absent
  elif [ -f "$1" ]; then
    NS='file'
  else
    NS=foreign
  fi
}
# Our link: a link whose text is exactly the expected target.
our_link() { [ -L "$1" ] && link_text "$1" && [ "$PI_LINK" = "$2" ]; }
# The .prev name's link text for a stable name's (PT).
prev_target() { PT=${1/\/current\//\/previous\/}; }

# The record of what acm-export installed for CertName: certificate name, secret, version, the store's
# version and the sha256 of each member. Written atomically (temp file + rename) under the state directory.
# record_get sets the variable named by its second argument ('' when none), record_field prints the value.
record_get() { # name var
  local _t="" _r=$'(^|\n)'"$1"$'=([^\n]*)'
  printf -v "$2" '%s' ""
  plain_file "$OWNED" || return 0
  { IFS= read -r -d '' _t <"$OWNED"; } 2>/dev/null || true
  if [[ $_t =~ $_r ]]; then printf -v "$2" '%s' "${BASH_REMATCH[2]}"; fi
}
record_field() { local value; record_get "$1" value; printf '%s' "$value"; }
RECORD_SYNC=()
# Set when a name outside the store changed (a stable or .prev name): the program syncs CertDir and KeyDir.
NAMES_CHANGED=0
# Each member also gets Stat:<member>=<inode>:<change time>:<size> as written: a file that still has them was
# not written since (report_node's proof that the live key is the one checked against this certificate).
write_record() { # version [adopted]
  local dir="$state_dir/owned" tmp m orig version=${SecretVersionId:-} i=0 rc=0 written_at
  local -a members=() files=() sums=()
  # The time as printf reads it (bash 4.2): EPOCHSECONDS is bash 5 only.
  printf -v written_at '%(%s)T' -1
  state_subdir "$dir" || return 1
  if [ -z "$version" ]; then record_get SecretVersionId version; fi
  for m in "${ALL_MEMBERS[@]}"; do
    if member_ok "$1" "$m" 2>/dev/null; then member_path "$1" "$m"; members+=("$m"); files+=("$MP"); fi
  done
  # One sha256sum for every member: "<hash>  <file>" lines in member order.
  if [ "${#files[@]}" -gt 0 ]; then mapfile -t sums < <(sha256sum -- "${files[@]}" || true); fi
  [ "${#sums[@]}" = "${#files[@]}" ] || return 1
  # Created here and nowhere else (noclobber: an existing name fails), 0600 by the program's umask.
  tmp="$dir/.$CertName.$$.$RANDOM$RANDOM"
  if [ -e "$tmp" ] || [ -L "$tmp" ]; then return 1; fi
  set -C
  {
    printf 'CertName=%s\nSecretId=%s\nSecretVersionId=%s\nCertDir=%s\nKeyDir=%s\nVersion=%s\nWrittenAt=%s\n' \
      "$CertName" "$SecretId" "$version" "$CertDir" "$KeyDir" "$1" "$written_at"
    # What the install read of the certificate it wrote (recorded_leaf); not for adopted files.
    if [ -n "${RECORD_LEAF:-}" ]; then printf 'Leaf=%s\n' "$RECORD_LEAF"; fi
    for m in "${members[@]}"; do
      printf 'Sha256:%s=%s\n' "$m" "${sums[$i]:0:64}"
      if path_info "${files[$i]}"; then printf 'Stat:%s=%s:%s:%s\n' "$m" "$PI_INODE" "$PI_CTIME" "$PI_SIZE"; fi
      i=$((i + 1))
    done
    for orig in "$STORE/original/"* "$KSTORE/original/"*; do
      if plain_file "$orig"; then printf 'Original=%s\n' "$orig"; fi
    done
  } >"$tmp" || rc=1
  set +C
  # RECORD_SYNC: what the caller syncs with the record, in the same call (one process).
  if [ "$rc" = 0 ] && sync -- "${RECORD_SYNC[@]}" "$tmp" && mv -fT -- "$tmp" "$OWNED"; then return 0; fi
  rm -f -- "$tmp"
  return 1
}

# A switch whose reload, hooks and served-serial check have not completed yet (a run killed after its switch):
# STATE_DIR/pending/<CertName> names the version switched to, and is emptied (not removed: no process) once
# they passed. A later run that finds `current` on that version with nothing to write completes them.
mark_pending() { # version|'' (done)
  local f="$state_dir/pending/$CertName"
  state_subdir "$state_dir/pending" && regular_or_absent "$f" || return 1
  if [ -n "$1" ]; then printf '%s\n' "$1" >"$f"; else : >"$f"; fi
}
switch_pending() {
  local f="$state_dir/pending/$CertName" v=""
  plain_file "$f" || return 1
  { IFS= read -r v <"$f"; } 2>/dev/null || return 1
  [ -n "$v" ] || return 1
  raw_version_link current
  [ "$RL" = "$v" ]
}
# The directories this node's record says CertName is installed in: a run for other directories would leave
# those files (the key among them) behind, unowned by any record. Refused before any change.
check_recorded_dirs() { # install|remove
  local rc rk
  record_get CertDir rc
  record_get KeyDir rk
  [ -n "$rc$rk" ] || return 0
  if [ "$rc" = "$CertDir" ] && [ "$rk" = "$KeyDir" ]; then return 0; fi
  if [ "$1" = remove ]; then
    fail install "$CertName is installed on this node in CertDir $rc and KeyDir $rk (its record), not in $CertDir and $KeyDir; a removal there would leave those files behind: send it for the directories of the record (nothing was removed)"
  fi
  fail install "$CertName is installed on this node in CertDir $rc and KeyDir $rk (its record), not in $CertDir and $KeyDir; installing there would leave those files behind: remove the target with its files first, or keep its directories (nothing was changed)"
}
# Whether the live certificate and key are the very files recorded by write_record (inode, change time and
# size unchanged since): then the key is the one checked against this certificate when it was installed, and
# need not be read by openssl again.
recorded_pair() { # cert-file key-file
  local rec="" want
  plain_file "$OWNED" && path_info "$1" || return 1
  { IFS= read -r -d '' rec <"$OWNED"; } 2>/dev/null || true
  want="Stat:cert.pem=$PI_INODE:$PI_CTIME:$PI_SIZE"
  if [[ $'\n'$rec != *$'\n'"$want"$'\n'* ]] || ! path_info "$2"; then return 1; fi
  want="Stat:key.pem=$PI_INODE:$PI_CTIME:$PI_SIZE"
  [[ $'\n'$rec == *$'\n'"$want"$'\n'* ]]
}

# The certificate as the install that wrote it read it (the record's Leaf line: serial, notAfter in ISO 8601
# UTC, DNS names), when the live certificate is that very file (inode, change time and size as recorded): no
# openssl read. Sets LEAF_SERIAL, LEAF_NOT_AFTER, LEAF_NAMES and LEAF_EXPIRED (notAfter against the clock);
# LEAF_PUB stays empty (recorded_pair proves the key). Fails otherwise: the caller reads the file.
recorded_leaf() { # cert-file
  local rec="" now re=$'(^|\n)Leaf=([0-9A-F]+) ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z) ([^\n]+)'
  plain_file "$OWNED" && path_info "$1" || return 1
  { IFS= read -r -d '' rec <"$OWNED"; } 2>/dev/null || true
  [[ $'\n'$rec == *$'\n'"Stat:cert.pem=$PI_INODE:$PI_CTIME:$PI_SIZE"$'\n'* && $rec =~ $re ]] || return 1
  LEAF_SERIAL=${BASH_REMATCH[2]} LEAF_NOT_AFTER=${BASH_REMATCH[3]} LEAF_NOT_AFTER_RAW="" LEAF_PUB="" LEAF_CN=""
  # Split at the spaces; the names' wildcards are not patterns here.
  set -f
  # shellcheck disable=SC2206
  LEAF_NAMES=(${BASH_REMATCH[4]})
  set +f
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  LEAF_EXPIRED=0
  if [[ $LEAF_NOT_AFTER < $now ]]; then LEAF_EXPIRED=1; fi
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
  ADOPT_LEFT=0
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
    prev_target "$target"
    for state in "$name:$target" "$name.prev:$PT"; do
      name_state "${state%%:*}" "${state#*:}"
      case $NS in
        ours | absent) ;;
        file)
          # A regular file: our own only when it is the same file as a member of the current version (an
          # adoption that was interrupted), or part of a proven install of the previous layout.
          if same_as_member "${state%%:*}"; then ADOPT_LEFT=1; continue; fi
          # The very file kept in the store as the original: a .prev copy of an adoption a killed run left goes
          # (finish_adoption); at a stable name it is the operator's file given back (a rolled-back or killed
          # takeover): a removal leaves it, an install takes it over again only with the takeover file.
          if same_as_original "${state%%:*}"; then
            if [ "${state%%:*}" != "$name" ]; then ADOPT_LEFT=1; continue; fi
            if [ "$1" = remove ]; then continue; fi
          fi
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
  local t="$takeover_dir/$CertName"
  [ -e "$t" ] || [ -L "$t" ] || return 1
  check_tree "takeover directory" "$takeover_dir"
  path_info "$t" && plain_file "$t" && trusted_uid "$PI_UID" && ! ((8#$PI_MODE & 8#022)) ||
    problems+=("takeover file $t must be a regular file owned by root and not writable by group or others")
  end_preflight
}
# Keeps a file acm-export replaces as the original (a hard link in the store), put back by remove.
keep_original() { # file
  local v="$KSTORE/original"
  if [ "${1%/*}" = "$CertDir" ]; then v="$STORE/original"; fi
  # Kept already, or another file kept before it (a takeover given back, then the operator's file rewritten):
  # the file at the name now is the one a removal puts back.
  if ! (umask 077 && mkdir -p -- "$v") || ! { [ "$1" -ef "$v/${1##*/}" ] || put_link -P "$1" "$v/${1##*/}"; }; then
    fail install "could not keep $1 as the original file"
  fi
  paths_changed
}
# A regular file at a stable or .prev name that is the very file (same inode) kept as its original.
same_as_original() { # name
  local v="$KSTORE/original"
  if [ "${1%/*}" = "$CertDir" ]; then v="$STORE/original"; fi
  plain_file "$v/${1##*/}" && [ "$1" -ef "$v/${1##*/}" ]
}
# Takeover (TAKEOVER: plain files at stable names) without a moment where the names show a certificate and a
# key of different sets: first a version holding, by hard links, what every stable name shows now (a plain
# file, or the member its link names), which `current` then names; each taken-over name is then replaced by
# its link, which shows the same bytes. The switch to the new version then changes every name at once.
# Sets SNAP_VERSION.
take_over_names() {
  local m name
  new_version
  SNAP_VERSION=$NEW_VERSION
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    # A link of ours (its text checked by check_names) is followed to the file it shows: the store's own links.
    if [ -e "$name" ]; then link_member "$name" "$m"; fi
  done
  kill_point
  switch_to current "$SNAP_VERSION" || fail install "could not switch $STORE/current"
  # Only the names this profile writes (a name it does not write stays the operator's file).
  for m in "${MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if ! plain_file "$name" || [[ " ${TAKEOVER[*]} " != *" $name "* ]]; then continue; fi
    put_link "${LINK_TO[$m]}" "$name" || fail install "could not take over $name"
    kill_point
  done
  NEW_VERSION=""
}
# The rollback of a takeover: with `current` back on a snapshot, each name this install writes whose link
# shows the very file kept as its original becomes that plain file again (a hard link renamed over the link:
# the same bytes). Also after a rollback that a killed run left half done (the names still links into the
# snapshot).
give_back_names() {
  local m name orig ok=0
  for m in "${MEMBERS[@]}"; do
    name=${STABLE[$m]}
    orig="$KSTORE/original/${name##*/}"
    if [ "${name%/*}" = "$CertDir" ]; then orig="$STORE/original/${name##*/}"; fi
    if ! our_link "$name" "${LINK_TO[$m]}" || ! plain_file "$orig" || ! [ "$name" -ef "$orig" ]; then continue; fi
    put_link -P "$orig" "$name" || ok=1
  done
  return "$ok"
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
  paths_changed
}
# A regular file at a stable or .prev name that is the very file (same inode) of a verified version member.
same_as_member() { # name
  local n=${1%.prev} link=current m v
  if [ "$n" != "$1" ]; then link=previous; fi
  store_version "$link" || return 1
  v=$SV
  for m in "${ALL_MEMBERS[@]}"; do
    if [ "${STABLE[$m]}" = "$n" ]; then member_ok "$v" "$m" && member_path "$v" "$m" && [ "$1" -ef "$MP" ]; return $?; fi
  done
  return 1
}

# Directories of the store: CertDir side 0755, KeyDir side like KeyDir (0700, or 0710 with the key's group).
# The removal of another CertName deletes .acm-export when it empties it, perhaps between the two mkdirs: then
# both are made again (three times at most).
store_dirs() {
  local d try
  for ((try = 0; try < 3; try++)); do
    for d in "$CertDir/.acm-export" "$STORE"; do
      if [ ! -d "$d" ]; then mkdir -m 0755 -- "$d" 2>"$WORK/mkdir.err" || true; paths_changed; fi
    done
    if [ -d "$STORE" ]; then break; fi
  done
  [ -d "$STORE" ] || fail install "could not create $STORE: $(one_line "$WORK/mkdir.err")"
  for d in "$CertDir/.acm-export" "$STORE"; do
    our_dir "$d" || fail install "$d is not a directory of uid $MY_UID closed to others"
  done
  for ((try = 0; try < 3; try++)); do
    for d in "$KeyDir/.acm-export" "$KSTORE"; do
      case $d in "$CertDir/.acm-export" | "$STORE") continue ;; esac
      if [ ! -d "$d" ]; then key_store_dir "$d" || true; fi
    done
    if [ -d "$KSTORE" ]; then break; fi
  done
  [ -d "$KSTORE" ] || fail install "could not create $KSTORE: $(one_line "$WORK/mkdir.err")"
  for d in "$KeyDir/.acm-export" "$KSTORE"; do
    case $d in "$CertDir/.acm-export" | "$STORE") continue ;; esac
    our_dir "$d" || fail install "$d is not a directory of uid $MY_UID closed to others"
  done
}
key_store_dir() { # dir: created 0700, or 0710 with the key's group; 1: mkdir failed (WORK/mkdir.err)
  mkdir -m 0700 -- "$1" 2>"$WORK/mkdir.err" || return 1
  if [ -n "${KEY_DIR_GROUP:-}" ]; then chgrp -h -- "$KEY_DIR_GROUP" "$1" && chmod 0710 -- "$1"; fi
  paths_changed
}
# A new, empty version directory on each side (sets NEW_VERSION).
# v<UTC time>-<8 random characters>, created exclusively (mkdir fails on an existing name: another is tried).
new_version() {
  local chars=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 name tries=0 i
  while :; do
    TZ=UTC printf -v name 'v%(%Y%m%d%H%M%S)T-' -1
    for ((i = 0; i < 8; i++)); do name+=${chars:RANDOM % 62:1}; done
    if mkdir -m 0755 -- "$STORE/$name" 2>/dev/null; then break; fi
    tries=$((tries + 1))
    [ "$tries" -lt 5 ] || fail install "could not create a version directory in $STORE"
  done
  NEW_VERSION=$name
  if [ "$KSTORE" != "$STORE" ] && ! key_store_dir "$KSTORE/$NEW_VERSION"; then
    fail install "could not create $KSTORE/$NEW_VERSION: $(one_line "$WORK/mkdir.err")"
  fi
  paths_changed
  kill_point
}
# Writes the members of NEW_VERSION (MEMBERS, from SRC with OWN and MODE): each created exclusively, with its
# mode where the umask can give it (on the key side only the owner's bits: its group is set after), then the
# owner and mode of the files that do not have them yet set at once per (owner, mode), then each checked and
# the key side linked. RECORD_SYNC: the files written and the version's directories and their store
# directories, for write_record to sync with the record (file data, then the entries naming them).
put_members() {
  local i dest text group gid fix create
  local -a dests=() idx=() these=()
  local -A same=()
  for i in "${!MEMBERS[@]}"; do
    member_path "$NEW_VERSION" "${MEMBERS[$i]}"
    dest=$MP
    dests+=("$dest")
    create=$((8#${MODE[$i]} & 8#666))
    if key_side "${MEMBERS[$i]}"; then create=$((create & 8#600)); fi
    printf -v create '%03o' "$((8#777 ^ create))"
    umask "$create"
    if [ "${MEMBERS[$i]}" = bundle.p12 ]; then
      (set -C && cat -- "${SRC[$i]}" >"$dest") || fail install "could not write $dest"
    else
      # Text (PEM) members are written by the shell itself; noclobber: created here and nowhere else.
      text=""
      { IFS= read -r -d '' text <"${SRC[$i]}"; } 2>/dev/null || true
      set -C
      { printf '%s' "$text" >"$dest"; } 2>/dev/null || { set +C; fail install "could not write $dest"; }
      set +C
    fi
    umask 077
    same["${OWN[$i]} ${MODE[$i]}"]+=" $i"
    # The key side's link (the version is named by nothing until the switch).
    if [ "$dest" != "$STORE/$NEW_VERSION/${MEMBERS[$i]}" ]; then ln -sT -- "$dest" "$STORE/$NEW_VERSION/${MEMBERS[$i]}"; fi
  done
  paths_changed
  fix=0
  for group in "${!same[@]}"; do
    these=()
    # Indices (digits) split by the default IFS.
    # shellcheck disable=SC2206
    idx=(${same[$group]})
    for i in "${idx[@]}"; do
      if ! staged_intact "${dests[$i]}" "${OWN[$i]}" "${MODE[$i]}"; then these+=("${dests[$i]}"); fi
    done
    [ "${#these[@]}" -gt 0 ] || continue
    gid=${group% *}
    gid=${gid#*:}
    if [ "$IS_ROOT" = 1 ]; then chown -h "${group% *}" -- "${these[@]}"
    elif [ "$gid" != "${GROUPS[0]}" ]; then chgrp -h -- "$gid" "${these[@]}"; fi
    chmod "${group#* }" -- "${these[@]}"
    fix=1
  done
  if [ "$fix" = 1 ]; then paths_changed; fi
  RECORD_SYNC=("${dests[@]}" "$STORE/$NEW_VERSION" "$KSTORE/$NEW_VERSION" "$STORE" "$KSTORE")
  for i in "${!MEMBERS[@]}"; do
    dest=${dests[$i]}
    staged_intact "$dest" "${OWN[$i]}" "${MODE[$i]}" || fail install "$dest was changed by someone else while it was written"
  done
}
# A link created or replaced in one rename (never seen half-made): link text, name; with -P a hard link of
# the file given instead of a symbolic link.
put_link() { # [-P] target name
  local kind=-s
  if [ "$1" = -P ]; then kind=-P; shift; fi
  local tmp="${2%/*}/.${2##*/}.acm-export-link.$$"
  paths_changed
  if [ -e "$tmp" ] || [ -L "$tmp" ]; then rm -f -- "$tmp"; fi
  if ln "$kind"T -- "$1" "$tmp" && mv -fT -- "$tmp" "$2"; then
    # A name outside the stores (a stable or .prev name): synced with its directory at the end of the run.
    case $2 in "$STORE"/* | "$KSTORE"/*) ;; *) NAMES_CHANGED=1 ;; esac
    paths_changed
    return 0
  fi
  rm -f -- "$tmp"
  paths_changed
  return 1
}
staged_intact() { # file uid:gid mode
  [ ! -L "$1" ] && [ -f "$1" ] && path_info "$1" && [ "$PI_TYPE:$PI_UID:$PI_GID:$PI_MODE:$PI_LINKS" = "f:$2:${3#0}:1" ]
}

# The switch: `current` (and `previous`) renamed onto a new link in one rename each; either version is a
# complete, matching set, so whichever an observer (a reload, a crash, a reboot) sees is consistent.
switch_to() { # link version|'' [nosync: the caller syncs the store after a second switch]
  if [ -n "$2" ]; then
    put_link "$2" "$STORE/$1" || return 1
  else
    rm -f -- "$STORE/$1" || return 1
  fi
  paths_changed
  if [ "${3:-}" != nosync ]; then sync -- "$STORE" 2>/dev/null || true; fi
  kill_point
}
# The stable names (and their .prev names once there is a previous version) as links into the store, made
# once; a regular file there that is the same file as the current member (adoption) is replaced by the link.
put_stable_links() {
  local m name prev
  store_version previous || true
  prev=$SV
  for m in "${MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if ! our_link "$name" "${LINK_TO[$m]}"; then
      put_link "${LINK_TO[$m]}" "$name" || fail install "could not create the link $name"
      kill_point
    fi
    prev_target "${LINK_TO[$m]}"
    if [ -n "$prev" ] && member_ok "$prev" "$m" && ! our_link "$name.prev" "$PT"; then
      put_link "$PT" "$name.prev" || fail install "could not create the link $name.prev"
      kill_point
    fi
  done
}
# Links of members this profile no longer writes (e.g. CombinedPem turned off) would dangle: removed.
drop_stale_links() {
  local m name
  local -a stale=()
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if our_link "$name" "${LINK_TO[$m]}" && [ ! -e "$name" ]; then stale+=("$name"); fi
    prev_target "${LINK_TO[$m]}"
    if our_link "$name.prev" "$PT" && [ ! -e "$name.prev" ]; then stale+=("$name.prev"); fi
  done
  if [ "${#stale[@]}" -gt 0 ]; then rm -f -- "${stale[@]}"; NAMES_CHANGED=1; paths_changed; fi
}
# Removes what runs that were killed left behind and every version but current and previous (only names
# this file writes: version directories and link temp names).
store_gc() {
  local keep1 keep2 keep3 keep4 d m n
  local -a old=() left=()
  store_version current || true
  keep1=$SV
  store_version previous || true
  keep2=$SV
  # What the links name, verified or not, stays too (a rollback put it back).
  raw_version_link current
  keep3=$RL
  raw_version_link previous
  keep4=$RL
  for d in "$STORE"/v* "$KSTORE"/v*; do
    [[ ${d##*/} =~ $VERSION_RE ]] || continue
    case ${d##*/} in "$keep1" | "$keep2" | "$keep3" | "$keep4") continue ;; esac
    if [ -d "$d" ] && [ ! -L "$d" ]; then old+=("$d"); fi
  done
  # Link temp names only when the globs find any (no process otherwise); one glob per name this CertName has,
  # never a prefix that another CertName's names share (CertName a, a.b's .a.b.crt.acm-export-link.<pid>).
  for d in "$STORE"/.current.acm-export-link.* "$STORE"/.previous.acm-export-link.*; do
    if [ -e "$d" ] || [ -L "$d" ]; then left+=("$d"); fi
  done
  for m in "${ALL_MEMBERS[@]}"; do
    for n in "${STABLE[$m]}" "${STABLE[$m]}.prev"; do
      for d in "${n%/*}/.${n##*/}.acm-export-link."*; do
        if [ -e "$d" ] || [ -L "$d" ]; then left+=("$d"); fi
      done
    done
  done
  # What was read stays true when nothing was removed.
  if [ "${#old[@]}" -gt 0 ]; then rm -rf -- "${old[@]}"; paths_changed; fi
  if [ "${#left[@]}" -gt 0 ]; then rm -f -- "${left[@]}" 2>/dev/null || true; paths_changed; fi
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
  finish_adoption
  log "adopted the files of the previous acm-export layout for $CertName into $STORE"
}
# The end of an adoption (also of one a killed run left half done, ADOPT_LEFT of check_names): each stable
# name that is still the very file of the current member becomes its link (the same bytes), and each .prev
# copy kept in the store (a previous member or an original) goes.
finish_adoption() {
  local m name
  for m in "${ALL_MEMBERS[@]}"; do
    name=${STABLE[$m]}
    if plain_file "$name" && same_as_member "$name"; then
      put_link "${LINK_TO[$m]}" "$name" || fail install "could not replace $name by its link"
      kill_point
    fi
    if plain_file "$name.prev" && { same_as_member "$name.prev" || same_as_original "$name.prev"; }; then
      rm -f -- "$name.prev"
      NAMES_CHANGED=1
      paths_changed
    fi
  done
}
# The DNS names of a certificate file, sorted, one per line.
dns_names() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' | sed -n 's/^[[:space:]]*DNS://p' | sort -u; }
legacy_link() { # file member: hard link of a regular file into NEW_VERSION
  if plain_file "$1"; then link_member "$1" "$2"; fi
}
# The file a name shows (a link followed), hard-linked as a member of NEW_VERSION (the key side linked too).
link_member() { # name member
  member_path "$NEW_VERSION" "$2"
  ln -LT -- "$1" "$MP" || fail install "could not link $1 into $STORE/$NEW_VERSION"
  if [ "$MP" != "$STORE/$NEW_VERSION/$2" ]; then
    ln -sT -- "$MP" "$STORE/$NEW_VERSION/$2" || fail install "could not link $1 into $STORE/$NEW_VERSION"
  fi
  paths_changed
}

# Rollback of an install: `current` and `previous` renamed back, the record put back, links this run
# created removed, the new version deleted. Returns non-zero if that could not be done.
restore_store() {
  local ok=0
  # A takeover: back on the snapshot first, the names then made plain files again (also those of a snapshot
  # that `current` named before the run: a rollback a killed run left half done).
  switch_to current "${SNAP_VERSION:-$PRE_CURRENT}" || ok=1
  give_back_names || ok=1
  # The links as they were before the run (whether or not the versions they name verify here).
  switch_to current "$PRE_CURRENT" || ok=1
  switch_to previous "$PRE_PREVIOUS" || ok=1
  # Links that now name nothing (a first install, or .prev names of a first replacement) go.
  drop_stale_links
  put_back_originals
  if [ -f "$WORK/owned.before" ]; then mv -fT -- "$WORK/owned.before" "$OWNED" || ok=1; else rm -f -- "$OWNED"; fi
  paths_changed
  store_gc
  return "$ok"
}

# Removal: put the stable links moved aside back (the server still needs them).
# The rollback name a removal moves a stable name to (BACKUP).
backup_of() { BACKUP="${1%/*}/.${1##*/}.acm-export-rollback"; }
restore_files() {
  local i dest ok=0
  for i in "${!LIVE[@]}"; do
    dest=${LIVE[$i]}
    backup_of "$dest"
    if [ -L "$BACKUP" ]; then mv -fT -- "$BACKUP" "$dest" || ok=1; fi
  done
  paths_changed
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
