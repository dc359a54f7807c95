# shellcheck shell=bash
# The node library: the install's steps, file handling, web server, hooks and inventory code (NODE_LIBRARY_FILES
# of ssm-documents/load.ts), joined and stripped at synth into one file that the stack ships as an S3 asset,
# so the install document stays well under SSM's 64 KB content limit. The loader (ssm-documents/load.ts)
# writes the asset's location and sha256 at the #library-object line. The run uses
# <state dir>/lib/<sha256>.sh when its sha256 matches, else fetches the object into its private work
# directory, checks the sha256 and moves it into that root-only cache; any other outcome stops the run at
# preflight before any live file is touched. The cached file is hashed again only when its inode, change
# time or size differ from those recorded (lib/.verified) when it was last hashed. Only openssl and the AWS
# CLI: nothing a node lacks.
#library-object

# sha256 (hex) of a file, or nothing when it cannot be read.
lib_sha256() { # file
  local out
  out=$(exec openssl dgst -sha256 -r <"$1" 2>/dev/null) || return 0
  printf '%s' "${out:0:64}"
}

load_library() {
  local dir="$state_dir/lib" file known="" verified="" found old changed=0 tries
  file="$dir/$LIB_SHA256.sh"
  # One find reads the cache directory, the file and the record of its last check, and the directories the
  # trust walks read; they judge the way to every directory the run writes in (the state directory included)
  # before anything is created or written there.
  trust_prefixes
  scan_paths "$dir" "$file" "$dir/.verified" "${PREFIXES[@]}"
  check_dirs
  end_preflight
  # mkdir never follows a symbolic link at its own name; a planted link (or anything not a root-only
  # directory of this uid) is refused below, before anything in it is read or written.
  if ! path_info "$dir"; then
    # Absent when read: created now (or by a run beside this one: its mkdir won), then read again and judged
    # below like any other.
    if ! { [ -d "$state_dir" ] || (umask 022 && mkdir -p -- "$state_dir"); } ||
      ! { [ -e "$dir" ] || [ -L "$dir" ] || mkdir -m 0700 -- "$dir" 2>/dev/null || [ -d "$dir" ]; }; then
      fail preflight "cannot create the library cache $dir (nothing was changed)"
    fi
    scan_paths "$dir" "$file" "$dir/.verified"
  fi
  if ! path_info "$dir" || [ "$PI_TYPE" != d ] || [ "$PI_UID" != "$MY_UID" ] || (( 8#$PI_MODE & 8#077 )); then
    fail preflight "$dir is not a directory of uid $MY_UID closed to others; refusing to keep the node library in it (nothing was changed)"
  fi
  # The file is hashed again only when it is not the very file last hashed (inode, change time and size as
  # recorded then): nobody but this uid can write in the directory, and no write leaves all three unchanged.
  if path_info "$file" && [ "$PI_TYPE" = f ]; then known="$LIB_SHA256 $PI_INODE $PI_CTIME $PI_SIZE"; fi
  if [ -n "$known" ] && path_info "$dir/.verified" && [ "$PI_TYPE" = f ]; then
    { IFS= read -r verified <"$dir/.verified"; } 2>/dev/null || verified=""
  fi
  if [ -n "$known" ] && [ "$verified" != "$known" ]; then
    if [ "$(lib_sha256 "$file")" = "$LIB_SHA256" ]; then
      printf '%s\n' "$known" >"$dir/.verified" 2>/dev/null || true
    else
      known=""
    fi
  fi
  # The file is opened before older versions are pruned (below, and by runs of other document versions beside
  # this one, during a stack update): the open file is what is sourced, so once open nobody can take it away. One
  # pruned between its check and the open is fetched again, once.
  for ((tries = 0; ; tries++)); do
    if [ -z "$known" ]; then
      command -v aws >/dev/null 2>&1 ||
        fail preflight "AWS CLI v2 is not installed (aws not found on PATH); cannot fetch the node library $LIB_OBJECT (nothing was changed)"
      if ! aws s3 cp --region "$LIB_REGION" --only-show-errors "$LIB_OBJECT" "$WORK/library.sh" >"$WORK/library.err" 2>&1 </dev/null; then
        fail preflight "could not fetch the node library $LIB_OBJECT: $(one_line "$WORK/library.err" 3) (nothing was changed)"
      fi
      found=$(lib_sha256 "$WORK/library.sh")
      if [ "$found" != "$LIB_SHA256" ]; then
        fail preflight "node library $LIB_OBJECT has sha256 ${found:-(unreadable)}, expected $LIB_SHA256; refusing to run it (nothing was changed)"
      fi
      # Replaced in one rename, never removed first: a run beside this one may be about to source it (its
      # name is its sha256, so whichever copy it reads is the same library).
      rm -f -- "$dir/.verified"
      changed=1
      if ! chmod 0600 -- "$WORK/library.sh" || ! mv -fT -- "$WORK/library.sh" "$file"; then
        fail preflight "could not store the node library in $dir (nothing was changed)"
      fi
      # The rename changed its change time: the record is of the file as it lies now.
      scan_paths "$file"
      if path_info "$file" && [ "$PI_TYPE" = f ]; then
        printf '%s\n' "$LIB_SHA256 $PI_INODE $PI_CTIME $PI_SIZE" >"$dir/.verified" 2>/dev/null || true
      fi
    fi
    if { exec {LIB_FD}<"$file"; } 2>/dev/null; then break; fi
    [ "$tries" = 0 ] || fail preflight "the node library $file was deleted twice while this run loaded it (nothing was changed)"
    known=""
  done
  # Earlier versions' files: the stack ships one library per document version.
  for old in "$dir"/*.sh; do
    if [ "$old" != "$file" ] && [ -f "$old" ] && [ ! -L "$old" ]; then rm -f -- "$old"; changed=1; fi
  done
  if [ "$changed" = 1 ]; then paths_changed; fi
  # shellcheck source=/dev/null
  source "/dev/fd/$LIB_FD"
  exec {LIB_FD}<&-
}
