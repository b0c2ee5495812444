import { RESTORE_PREFIX } from '../../dataplane/apply.js';

/**
 * The host's half of a commit-confirmed apply over SSH: POSIX sh, `nft` and files under the
 * host's state directory `D`, nothing else installed. Every step runs as one `sh -c` over the
 * reconciler's connection and survives that connection dying under it (SIGHUP and SIGPIPE are
 * ignored; results are written to the journal before anything is printed).
 *
 *   D/lock/              held from arming an apply until it is confirmed or reverted (mkdir is atomic)
 *   D/lock/armed.<id>    present while the revert is armed; whoever renames it away first (the
 *                        watchdog, a confirm, a rollback) decides what happens, exactly once
 *   D/lock/before.nft    the table as it was before (empty: no table), read on the host
 *   D/lock/restore.nft   RESTORE_PREFIX + before.nft: the same atomic batch as a rollback
 *   D/journal            one line per step: `<epoch s> <event> <id> <hash> <text>`
 *
 * The watchdog is `setsid nohup sh -c …` with its output on /dev/null: detached from the SSH
 * session, in the host's own network context (on a lab host that is its namespace), never
 * handed to systemd, cron or at.
 */

const PRELUDE = `
trap '' HUP PIPE
set -u
PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH
D=$1; shift
L=$D/lock
mkdir -p "$D" || { echo "cannot create the state directory $D" >&2; exit 70; }
now() { date +%s; }
journal() { printf '%s %s %s %s %s\\n' "$(now)" "$1" "$2" "$3" "$4" >> "$D/journal"; }
newest() { tail -n 1 "$D/journal" 2>/dev/null; }
restore_batch() { printf '${RESTORE_PREFIX.replace(/\n/g, '\\n')}'; cat "$1"; }
# The watchdog of apply $2 runs as $1: not a zombie, and (Linux) not a recycled PID.
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  case "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" in Z|X) return 1 ;; esac
  tr '\\0' ' ' < "/proc/$1/cmdline" | grep -q -- "$2"
}
# A lock left by a watchdog that is gone (host rebooted, process killed) or by an arm step that
# died half-way: revert what was armed now, then free it.
recover() {
  [ -d "$L" ] || return 0
  id=$(cat "$L/id" 2>/dev/null); hash=$(cat "$L/hash" 2>/dev/null)
  if [ -n "$id" ] && [ -e "$L/armed.$id" ]; then
    alive "$(cat "$L/pid" 2>/dev/null)" "$id" && return 0
    if mv "$L/armed.$id" "$L/claimed" 2>/dev/null; then
      if nft -f "$L/restore.nft" 2>/dev/null; then ev=reverted; else ev=revert-failed; fi
      journal "$ev" "$id" "$hash" "the revert watchdog was gone (host rebooted or process killed); reverted at the next contact"
      rm -rf "$L"
    fi
  elif [ -e "$L/claimed" ]; then
    n=0; while [ -d "$L" ] && [ $n -lt 15 ]; do sleep 1; n=$((n + 1)); done
    rm -rf "$L"
  else
    rm -rf "$L"
  fi
}
`;

const WATCHDOG = `
trap '' HUP PIPE
PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH
D=$1; id=$2; secs=$3; L=$D/lock
sleep "$secs"
mv "$L/armed.$id" "$L/claimed" 2>/dev/null || exit 0
if nft -f "$L/restore.nft" 2>"$L/err"; then ev=reverted; else ev=revert-failed; fi
printf '%s %s %s %s %s\\n' "$(date +%s)" "$ev" "$id" "$(cat "$L/hash")" "not confirmed within $secs s" >> "$D/journal"
rm -rf "$L"
`;

/**
 * apply D ID HASH SECS < ruleset. Idempotent per ID, and adopts an armed apply of the same
 * ruleset (a restarted reconciler): nothing is applied twice. Prints one line:
 * `applied ID DEADLINE` or `adopted ID DEADLINE`. Exit 75: locked by another apply; 76: this
 * ruleset was reverted by the host itself and nothing happened since (not applied again);
 * 65: nft -c refused it; 66: nft -f failed (atomic: nothing changed).
 */
export const APPLY_SCRIPT = `${PRELUDE}
ID=$1; HASH=$2; SECS=$3
recover
if [ -d "$L" ]; then
  held=$(cat "$L/id" 2>/dev/null)
  if [ "$held" = "$ID" ] || [ "$(cat "$L/hash" 2>/dev/null)" = "$HASH" ]; then
    n=0; while ! grep -q " applied $held " "$D/journal" 2>/dev/null && [ -d "$L" ] && [ $n -lt 10 ]; do sleep 1; n=$((n + 1)); done
    if grep -q " applied $held " "$D/journal" 2>/dev/null && [ -e "$L/armed.$held" ]; then
      echo "adopted $held $(cat "$L/deadline")"; exit 0
    fi
  fi
  echo "locked by apply $held (ruleset $(cat "$L/hash" 2>/dev/null), revert armed until $(cat "$L/deadline" 2>/dev/null))" >&2; exit 75
fi
last=$(newest)
case "$last" in
  *" reverted "*" $HASH "*|*" revert-failed "*" $HASH "*) echo "$last" >&2; exit 76 ;;
esac
if [ -f "$D/journal" ] && [ "$(wc -l < "$D/journal")" -gt 1000 ]; then tail -n 200 "$D/journal" > "$D/journal.new" && mv "$D/journal.new" "$D/journal"; fi
mkdir "$L" 2>/dev/null || { echo "locked by a concurrent apply" >&2; exit 75; }
printf '%s\\n' "$ID" > "$L/id"; printf '%s\\n' "$HASH" > "$L/hash"
cat > "$L/new.nft"
if nft list table inet palisade > "$L/before.nft" 2> "$L/err"; then :
elif grep -q 'No such file or directory' "$L/err"; then : > "$L/before.nft"
else cat "$L/err" >&2; rm -rf "$L"; exit 71; fi
restore_batch "$L/before.nft" > "$L/restore.nft"
if ! nft -c -f "$L/new.nft" 2> "$L/err"; then cat "$L/err" >&2; rm -rf "$L"; exit 65; fi
deadline=$(( $(now) + SECS ))
printf '%s\\n' "$deadline" > "$L/deadline"
: > "$L/armed.$ID"
setsid nohup sh -c '${WATCHDOG.replace(/'/g, `'\\''`)}' palisade-revert "$D" "$ID" "$SECS" </dev/null >/dev/null 2>&1 &
printf '%s\\n' "$!" > "$L/pid"
journal armed "$ID" "$HASH" "revert armed for $SECS s"
if ! nft -f "$L/new.nft" 2> "$L/err"; then
  mv "$L/armed.$ID" "$L/claimed" 2>/dev/null && kill -TERM "-$(cat "$L/pid")" 2>/dev/null
  journal apply-failed "$ID" "$HASH" "nft -f failed"; cat "$L/err" >&2; rm -rf "$L"; exit 66
fi
journal applied "$ID" "$HASH" "applied"
echo "applied $ID $deadline"
`;

/**
 * confirm D ID|- : disarms the revert of apply ID (`-`: whatever is armed). Prints `confirmed ID`
 * or `none` (nothing armed and nothing reverted since); exit 3 with the journal line when the
 * host reverted by itself first.
 */
export const CONFIRM_SCRIPT = `${PRELUDE}
ID=$1
[ "$ID" = "-" ] && ID=$(cat "$L/id" 2>/dev/null)
if [ -n "$ID" ] && mv "$L/armed.$ID" "$L/claimed" 2>/dev/null; then
  pid=$(cat "$L/pid" 2>/dev/null); [ -n "$pid" ] && kill -TERM "-$pid" 2>/dev/null
  journal confirmed "$ID" "$(cat "$L/hash")" "confirmed by the reconciler"
  rm -rf "$L"
  echo "confirmed $ID"; exit 0
fi
last=$(newest)
case "$last" in
  *" reverted "*|*" revert-failed "*) echo "$last"; exit 3 ;;
esac
echo "none"
`;

/**
 * restore D < snapshot (the table's listing before the apply; empty: no table). The reconciler's
 * rollback: disarms whatever is armed, puts the snapshot back with the same batch the watchdog
 * uses (skipped when the table already is the snapshot, e.g. after the host reverted by itself),
 * and prints the journal line it found first (how the reconciler learns of a revert it did not see).
 */
export const RESTORE_SCRIPT = `${PRELUDE}
recover
n=0; while [ -d "$L" ] && [ ! -e "$L/armed.$(cat "$L/id" 2>/dev/null)" ] && [ $n -lt 15 ]; do sleep 1; n=$((n + 1)); done
found=$(newest)
if [ -d "$L" ]; then
  id=$(cat "$L/id" 2>/dev/null)
  if mv "$L/armed.$id" "$L/claimed" 2>/dev/null; then
    pid=$(cat "$L/pid" 2>/dev/null); [ -n "$pid" ] && kill -TERM "-$pid" 2>/dev/null
    journal disarmed "$id" "$(cat "$L/hash")" "revert disarmed: rolled back by the reconciler"
    rm -rf "$L"
  fi
fi
mkdir "$L" 2>/dev/null || { echo "locked by a concurrent apply" >&2; exit 75; }
cat > "$L/snapshot.nft"
if nft list table inet palisade > "$L/current.nft" 2> "$L/err"; then :
elif grep -q 'No such file or directory' "$L/err"; then : > "$L/current.nft"
else cat "$L/err" >&2; rm -rf "$L"; exit 71; fi
if cmp -s "$L/current.nft" "$L/snapshot.nft"; then
  journal unchanged - - "rollback: the table already was the snapshot"
else
  restore_batch "$L/snapshot.nft" > "$L/restore.nft"
  if ! nft -f "$L/restore.nft" 2> "$L/err"; then cat "$L/err" >&2; rm -rf "$L"; exit 67; fi
  journal restored - - "rolled back by the reconciler"
fi
rm -rf "$L"
echo "found $found"
`;

/** Runs `nft ARGS` (stdin passed through) with the host's usual paths. */
export const NFT_SCRIPT = `PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH; exec nft "$@"`;

/** `ip -j addr show`: the interfaces the compiler matches host endpoints against. */
export const INTERFACES_SCRIPT = `PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH; exec ip -j addr show`;

/** POSIX single quotes: the remote login shell passes every argument through unchanged. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `sh -c 'SCRIPT' palisade ARG…` as one command line for the remote login shell. */
export const shCommand = (script: string, args: readonly string[]): string => ['sh', '-c', shellQuote(script), 'palisade', ...args.map(shellQuote)].join(' ');

/** One journal line, parsed. */
export interface JournalLine {
  at: number;
  event: string;
  id: string;
  hash: string;
  text: string;
}

export function parseJournalLine(line: string): JournalLine | null {
  const m = /^(\d+) (\S+) (\S+) (\S+) ?(.*)$/.exec(line.trim());
  return m ? { at: Number(m[1]) * 1000, event: m[2]!, id: m[3]!, hash: m[4]!, text: m[5] ?? '' } : null;
}
