#!/bin/sh
# flowmon-entrypoint: the flowmon container's entrypoint. Checks the environment the DaemonSet
# gives it, waits for the inventory sidecar's first complete sync, then replaces itself with
# `flowmon capture ARGS...` (exec: flowmon is PID 1's child-less successor and receives
# SIGTERM from the kubelet directly).
#
# Environment:
#   NODE_NAME                  required: the node this pod runs on (downward API spec.nodeName)
#   FLOWMON_INVENTORY_DIR      the directory the sidecar writes (default /run/flowmon/inventory)
#   FLOWMON_INVENTORY_TIMEOUT  seconds to wait for its first sync (default 300; 0: do not wait)
#   FLOWMON_BIN                the flowmon executable (default: flowmon on PATH)
# Exit status: 64 for a missing or malformed setting, 69 when the inventory does not arrive
# in time (sysexits.h EX_USAGE, EX_UNAVAILABLE); otherwise flowmon's own.
set -eu

die() {
    status=$1
    shift
    printf 'flowmon-entrypoint: error: %s\n' "$*" >&2
    exit "$status"
}

[ -n "${NODE_NAME:-}" ] || die 64 "NODE_NAME is not set (give it spec.nodeName through the downward API)"
case $NODE_NAME in
    *[!a-z0-9.-]*) die 64 "NODE_NAME '$NODE_NAME' is not a Kubernetes node name (lowercase letters, digits, '-' and '.')" ;;
esac

inventory=${FLOWMON_INVENTORY_DIR:-/run/flowmon/inventory}
timeout=${FLOWMON_INVENTORY_TIMEOUT:-300}
case $timeout in
    '' | *[!0-9]*) die 64 "FLOWMON_INVENTORY_TIMEOUT '$timeout' is not a whole number of seconds" ;;
esac
[ -d "$inventory" ] || die 64 "inventory directory $inventory does not exist (mount the volume the inventory sidecar writes)"

# The sidecar creates .synced after its first complete sync (every file written and renamed
# into place), so flowmon never starts on a partial inventory.
if [ "$timeout" -gt 0 ] && [ ! -e "$inventory/.synced" ]; then
    printf 'flowmon-entrypoint: waiting up to %ss for the first inventory in %s\n' "$timeout" "$inventory" >&2
    waited=0
    while [ ! -e "$inventory/.synced" ]; do
        [ "$waited" -lt "$timeout" ] || die 69 "no inventory in $inventory after ${timeout}s (is the inventory sidecar running? kubectl logs -c inventory)"
        sleep 1
        waited=$((waited + 1))
    done
fi

exec "${FLOWMON_BIN:-flowmon}" capture "$@"
