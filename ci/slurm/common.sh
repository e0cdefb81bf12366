# Shared by start.sh and stop.sh; sourced, never run. Expects $DIR to be set.

# The pid in a pidfile, if that process is alive, runs the expected program (comm) and was started
# from $DIR: a stale pidfile can name a recycled pid or somebody else's daemon, which must be
# neither reused nor signalled.
live_pid() { # pidfile comm -> pid of our live daemon, or failure
  local pid
  [ -s "$1" ] || return 1
  pid="$(tr -cd '0-9' <"$1")"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/" || return 1
  printf '%s\n' "$pid"
}
