#!/usr/bin/env bash
# install.sh: install one exported ACM certificate on this node (the install document's program; the
# document joins it after the library files of lib/ it uses, see ssm-documents/load.ts).
#
# Fetches exactly one Secrets Manager version (acm-export secret format: a passphrase block, an optional
# PFX passphrase block, the leaf certificate, the chain in order, the encrypted PKCS#8 key), decrypts the
# key in a private temp dir, validates everything, writes the files atomically, tests and reloads the web
# server, runs the deploy hooks, checks the served serial, and restores the previous files if any of that
# fails.
#
# Two modes: a push names the version (SecretVersionId); a State Manager association names the stage
# (SecretVersionStage=AWSCURRENT), which DescribeSecret resolves to a version id first (no secret value; a
# node role without DescribeSecret falls back to GetSecretValue of the stage, with one warning line). When
# the node's state says it holds that version and the live files are intact and served (live_set_unchanged),
# the run answers "unchanged" without reading the secret; otherwise that version is fetched like a push.
# Either way the run is idempotent: when the live files (content, owner, group, mode) already hold that
# version and the server serves its serial, nothing is written and nothing is reloaded ("changed": false).
# After every run past parameter validation the node's state is written as custom inventory
# (Custom:AcmExportCertificate, one entry per CertName, no secrets) for the SSM Agent to collect: under the
# CertName lock only (a run that failed before it took the lock takes it without waiting, and writes nothing
# while another run holds it). A failed run writes nothing for a target removed from this node (unless the
# removal check under the lock found its version created after the removal) or for a CertName whose record
# names another secret (unless that
# secret's target was deleted and this run took the name over); neither does a report run for the latter.
#
# The other actions are programs of their own, each with its own document: report.sh (re-read what the
# node holds and serves), remove.sh (delete CertName's files) and preflight.sh (is this node ready).
#
# This document holds only what runs before the node library: parameter checks, paths, the lock and the
# library loader. The install's steps, file handling, web server, hooks and inventory code (lib/install-steps.sh,
# lib/files.sh, lib/service.sh, lib/hooks.sh, lib/inventory.sh) are the node library: lib/library.sh fetches it
# once from the stack's S3 asset into <state dir>/lib/<sha256>.sh (0700), checks its sha256 and sources it
# before anything uses it; a bad or unreachable copy fails the run at preflight, nothing changed.
#
# Requires bash 4.4 or later on the node (with coreutils, util-linux flock, openssl >= 1.1.1, AWS CLI v2).
# The preflight reports every other missing tool, but it cannot report a missing bash: it is bash. The
# SSM Agent runs the runCommand lines as a file through `sh -c`, so the kernel follows the first line
# (#!/usr/bin/env bash); without bash the command fails with env's own "No such file or directory" and
# exit code 127, before any "acm-export:" line. bash 3 (no associative arrays) exits 11 with one line.
#
# Input: environment variables only, never text spliced into this script.
#   Document parameters (interpolationType ENV_VAR, SSM Agent >= 3.3.2746.0):
#     SSM_CertName SSM_SecretId SSM_Region                               required
#     SSM_SecretVersionId | SSM_SecretVersionStage                       exactly one of the two non-empty
#     SSM_CertDir SSM_KeyDir SSM_KeyGroup SSM_Service SSM_VerifyPort SSM_KeyOwner
#     SSM_KeyMode SSM_CertOwner SSM_CertGroup SSM_CertMode SSM_Pkcs12 SSM_CombinedPem SSM_Target
#                                                                        optional, document defaults
#   Not document parameters (local mode, tests):
#     ACM_EXPORT_NGINX_CONF      nginx configuration to test and reload (`nginx -c FILE -t`,
#                                `nginx -c FILE -s reload`); when set, systemd is not used for nginx
#                                and Service=auto means nginx
#     APACHE_CONFDIR             read by Debian's apachectl: the Apache instance to test and reload (its
#                                apache2.conf and envvars); when set, systemd is not used for Apache
#     ACM_EXPORT_VERIFY_SECONDS  how long to retry the served-serial check (default 10)
#     ACM_EXPORT_LOCK_SECONDS    how long to wait for another run for the same CertName (default 300)
#     ACM_EXPORT_ALLOW_STICKY_ANCESTOR  1: as root, accept targets below a sticky world-writable
#                                directory such as /tmp (see "Directory trust"; default 0)
#     AWS_SSM_INSTANCE_ID        node id in the result line (set by the SSM Agent; else `uname -n`), and
#                                the custom inventory location /var/lib/amazon/ssm/<id>/inventory/custom
#                                (written only when the agent's /var/lib/amazon/ssm/<id> exists)
#     ACM_EXPORT_INVENTORY_DIR   where to write AcmExportCertificate.json instead (local mode, tests)
#     ACM_EXPORT_STATE_DIR       per-certificate state (default /var/lib/acm-export, or
#                                ACM_EXPORT_INVENTORY_DIR/.acm-export-state when that is set)
#     ACM_EXPORT_HOOKS_DIR       deploy hooks directory instead of /etc/acm-export/hooks.d (local mode,
#                                tests; Run Command sets no variable but SSM_<parameter>, see "Hooks")
#     ACM_EXPORT_TAKEOVER_DIR    takeover directory instead of /etc/acm-export/takeover.d (local mode,
#                                tests; see "Ownership")
#     ACM_EXPORT_LOG_DIR         where hooks.log goes instead of /var/log/acm-export (local mode, tests)
#     TMPDIR                     where the private work directory is created
#
# Output: progress lines "acm-export: ..." on stderr. On success exactly one JSON line on stdout:
#   {"node","certName","serial","notAfter","names":[...],"files":{"cert","chain","fullchain","key"
#    [,"combined"][,"pkcs12"]},"service","requestedService","reloaded":bool,"verified":bool,"changed":bool,
#    "secretVersionId"}
#   serial is as openssl prints it: upper-case hex without colons (ACM shows lower-case with colons).
#   service is the server tested and reloaded; requestedService the Service parameter. Service=auto picks
#   the one of nginx, apache2 and httpd that is on PATH and running (active systemd unit, else a process of
#   that name; with ACM_EXPORT_NGINX_CONF set: nginx): none running → service "none" (files installed, no
#   reload); more than one → the run fails at preflight, nothing changed, asking for an explicit Service.
#   A version older than the installed certificate adds ,"skipped":"older than installed",
#   "installedSerial","installedNotAfter" (serial, notAfter and secretVersionId stay the requested ones).
# On failure the last stderr line is "acm-export: FAILED at <step>: <reason>", stdout holds one line
# {["node",]"failedStep","exitCode","reason"} (the same reason), and the exit code names
# the step: 10 parameters, 11 preflight, 12 lock, 13 decrypt, 14 validate, 15 install, 16 configtest,
# 17 reload, 18 hooks, 19 verify, 20 finish (internal error), 21 failed and the rollback was incomplete.
# An unexpected command failure inside a step reports that step ("unexpected error ... near line N").
#
# Files: CertDir/<CertName>.crt (leaf), .chain.pem, .fullchain.pem (CertOwner:CertGroup, CertMode);
# KeyDir/<CertName>.key (KeyOwner:KeyGroup, KeyMode: 0600, or 0640 with KeyGroup), and with the same
# owner and mode KeyDir/<CertName>.combined.pem (key + full chain, CombinedPem=true) and
# KeyDir/<CertName>.p12 (PKCS#12 with key, leaf and chain, AES-256-CBC/PBKDF2/SHA-256 MAC, Pkcs12=true;
# its passphrase is the secret version's PFX passphrase block). These names are links, created once, into
# a store: CertDir/.acm-export/<CertName>/current -> v<time>-<random>/ (cert, chain, fullchain; key
# members linked to KeyDir/.acm-export/<CertName>/v.../); a new version is written and synced, then one
# rename of `current` switches the whole set (`previous`, the <file>.prev names, is the replaced one; older
# versions are deleted). A run killed at any step (ACM_EXPORT_TEST_KILL_AT=N, tests only: kill -9 at the
# N-th file operation; a counter otherwise) leaves the old or the new set.
#
# Ownership: STATE_DIR/owned/<CertName> records the SecretId, version, and the sha256 and inode, change time
# and size of each file written (files still exactly as written need no openssl call to prove the key matches
# the certificate; any difference falls back to openssl). A run
# replaces or deletes only its own links and store: anything else at a stable or .prev name, and a
# CertName recorded for another SecretId, is refused (exit 15, nothing changed); the latter unless that
# secret is of this target and deleted (holder_released: where POST /exports frees the name). So is a CertName
# recorded in other CertDir/KeyDir (check_recorded_dirs: those files would be left behind). Plain files of the
# previous layout are adopted only when its inventory entry names this SecretId and their serial. Plain files
# at stable names (not .prev) are taken over only when the operator's takeover file TAKEOVER_DIR/<CertName>
# exists (default /etc/acm-export/takeover.d, ACM_EXPORT_TAKEOVER_DIR in local mode and tests; checked like
# the hooks directory, exit 11 if it is not trusted): each is kept in the store as the original and put back
# by remove or by the rollback of that first install. All runs
# for one CertName (pushes, association runs, reports and removals alike, whatever their KeyDir, and before KeyDir
# exists) are serialized with flock on STATE_DIR/locks/<CertName>.lock; the idempotency check, the writes, the
# reload, the hooks and the verification all happen under it, and what a run read before it took the lock is
# read again under it (the run it waited for may have changed it). An association run that waited asks again
# which version holds its stage: when the stage moved on meanwhile, it installs nothing and succeeds with
# "changed": false and "skipped": "<stage> moved on while this run waited". A run killed after its switch leaves
# STATE_DIR/pending/<CertName> naming the version: the next run with nothing to write runs the reload, the
# hooks and the verification it missed (switch_pending).
#
# Older versions: a certificate whose notAfter is earlier than that of the certificate installed for the
# same CertName (and whose serial differs, with the same DNS names) is never installed: the run prints "acm-export: skipped: ..."
# and succeeds with "changed": false and "skipped": "older than installed", writes nothing, reloads
# nothing, and reports LastRun "skipped" with the installed version in the custom inventory. Such a run
# is a late pinned push (its command waited for an offline node, or was retried) arriving after a newer
# version was installed by a later push or the association; installing it would undo the renewal, and
# failing it would alert on a node that already holds the newer certificate and that no retry could
# "fix". The workflow already ends an older export as Superseded before it sends anything; this covers
# the commands already sent. To go back to an older certificate on purpose, remove the live files for
# that CertName first. The node's run succeeds, but the workflow reads "skipped" from the result line: the
# export is reported as not installed on that node (status-check).
#
# Placement (parameters, before anything is read or written): CertDir and KeyDir must equal or lie below
# (whole components) one of ALLOWED_DIRS, and never be one of FORBIDDEN_EXACT or below one of
# FORBIDDEN_TREES (system trees, web roots); a non-empty KeyOwner or KeyGroup must be one of
# ALLOWED_KEY_ACCOUNTS. The stack writes its policy into this text when it builds the document, so no
# SendCommand caller can widen it with a parameter. Anything else is refused with one line each (exit 10).
#
# Hooks: after an install that changed the files (and the reload), every root-owned executable in the
# fixed directory /etc/acm-export/hooks.d runs in lexical order (certbot deploy-hook style), with the file
# paths in ACM_EXPORT_* variables; a hook that fails rolls the install back. The directory is not a
# parameter: whoever may send the document must not choose which root-owned programs run as root. A hook's
# stdout and stderr go to LOG_DIR/hooks.log (root-only, 0600, rotated at 1 MiB to hooks.log.1), never into
# the run's output, which gets one summary line per hook: its name, exit status and at most 3 of its last
# output lines, with key blocks, long base64-like runs (passphrases, key bodies) and paths under KeyDir masked.
#
# Removed targets: a successful remove leaves a tombstone (STATE_DIR/removed/<CertName>: the SecretId and
# the time). An install of CertName from that secret whose version was created (Secrets Manager
# CreatedDate) no later than the removal is refused without changing anything: it was already in flight
# (an association run or a push sent before the removal). It prints "acm-export: refused: ..." and succeeds
# with "changed": false and "skipped": "target removed from this node". A version created after the
# removal (a new export) installs and clears the tombstone. The comparison uses this node's clock.
#
# Directory trust (preflight, before anything is written): as root, CertDir, KeyDir, the state directory and its
# own directories, the custom inventory directory and the hooks directory and every directory on the way to them
# from / (symbolic links resolved, each link owned by root too) must be owned by root and not writable by group
# or others; anything else is refused with one line per problem (exit 11), because whoever can change one of
# those directories could swap a staged file, the lock or a rollback link for a symbolic link between two steps
# and make root write, chown or chmod any file. Sticky world-writable directories (/tmp) count as writable by
# others, so targets below /tmp are refused too. Not as root (local mode, tests), the same walk accepts
# directories owned by root or the current user, and a sticky world-writable directory of such an owner ends it:
# only the owner of an entry there (or of the directory) may rename or remove it, so the directories from the
# target up to (not including) the nearest such directory are checked, and the target must not be that directory
# or be created directly in it; a symbolic link met on the way, and what was found before it, still count.
# ACM_EXPORT_ALLOW_STICKY_ANCESTOR=1 (not a document parameter) applies that sticky rule as root too, for test
# and local-mode roots under /tmp. Beyond the check, file operations do not follow symbolic links: staged files
# are re-checked (regular file, owner, mode, one link) before the rename, chown/chgrp use -h, renames and
# rollback links use -T, and a live, .prev or rollback name that is a symbolic link or not a regular file is
# refused; so is a lock file that is one, and, at preflight, a directory of the state directory (lib, locks,
# owned, inventory, pending, removed) that is a symbolic link.

# Failed install runs are recorded in the custom inventory, under the lock (report and remove runs leave the
# entry as it was).
# Not before the node library (lib/library.sh) is loaded: report_or_warn is one of its functions.
record_failure() { if declare -F report_or_warn >/dev/null; then report_or_warn failed "$1"; fi; }

main() {
  set_traps
  UNDO=rollback
  # A version id (push) or, in association mode, a stage.
  local required="CertName SecretId SecretVersionId Region"
  if [ -n "${SSM_SecretVersionStage+set}" ]; then required="CertName SecretId Region"; fi
  # The document's parameters: read_params sets each from SSM_<Name>, else its default (tables in lib/params.sh).
  read_params "$required" CertName SecretId SecretVersionId SecretVersionStage Region CertDir KeyDir KeyGroup \
    Service VerifyPort KeyOwner KeyMode CertOwner CertGroup CertMode Pkcs12 CombinedPem Target
  if [ -n "$SecretVersionId" ] && [ -n "$SecretVersionStage" ]; then
    problems+=("give exactly one of SSM_SecretVersionId (push) and SSM_SecretVersionStage (association), not both")
  elif [ -z "$SecretVersionId" ] && [ -z "$SecretVersionStage" ]; then
    problems+=("give exactly one of SSM_SecretVersionId (push) and SSM_SecretVersionStage (association)")
  fi
  check_params
  set_paths
  # The node library (the install's steps) before anything uses it; a bad or unreachable one stops here.
  make_work_dir
  load_library
  install_certificate
}

main "$@"
