#!/usr/bin/env bash
# Two lab members for the shared-cache test: stage-alice and stage-bob, each with a primary group
# of their own and both in the group stage-lab, which owns the lab's cache. Needs root; safe to
# run again. Prints the variables that enable the test.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
group=stage-lab
users=(stage-alice stage-bob)

getent group "$group" >/dev/null || groupadd "$group"
for u in "${users[@]}"; do
  id -u "$u" >/dev/null 2>&1 || useradd --no-create-home --user-group --groups "$group" --shell /usr/sbin/nologin "$u"
done

# The test runs this checkout's CLI as those users, so every directory above it must let them
# pass (search only: nothing becomes listable or readable that was not).
d="$repo"
while [ "$d" != "/" ]; do
  chmod o+x "$d"
  d="$(dirname "$d")"
done

echo "STAGE_TEST_USERS=$(IFS=,; echo "${users[*]}") STAGE_TEST_GROUP=$group"
