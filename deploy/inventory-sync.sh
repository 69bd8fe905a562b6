#!/bin/sh
# flowmon-inventory-sync: the inventory sidecar. Keeps the files flowmon reads (--pods,
# --services, --namespaces, --nodes, --policies DIR) current in a directory shared with the
# flowmon container, with kubectl and the pod's service account (read-only RBAC,
# deploy/kubernetes/10-rbac.yaml).
#
# Every file is written whole to a staging directory on the same filesystem and renamed into
# place (rename(2) is atomic), and only when its content changed, so a reader never sees a
# partial file and flowmon reloads only on a real change. A failed kubectl call keeps the
# previous file (a transient API error never blanks the policies); a policy kind the cluster
# does not serve (no Cilium CRDs) is written as an empty List. `.synced` appears once the
# first complete sync is in place: the entrypoint and the startup probe wait for it.
#
# When it re-reads: every FLOWMON_SYNC_INTERVAL seconds (default 300) everything, and, with a
# `kubectl get --watch-only` per kind that changes often (pods, services, endpointslices and
# the three policy kinds), that kind again once it changed (the watch is only a
# trigger: a file is always a full list), at most every
# FLOWMON_SYNC_MIN_INTERVAL seconds (default 15). FLOWMON_SYNC_ONCE=1 syncs once and exits
# (status 1 if a kind could not be read).
#
# Environment: FLOWMON_INVENTORY_DIR (default /run/flowmon/inventory), KUBECTL (default
# kubectl), FLOWMON_SYNC_INTERVAL, FLOWMON_SYNC_MIN_INTERVAL, FLOWMON_SYNC_ONCE.
set -u

dir=${FLOWMON_INVENTORY_DIR:-/run/flowmon/inventory}
kubectl=${KUBECTL:-kubectl}
interval=${FLOWMON_SYNC_INTERVAL:-300}
min_interval=${FLOWMON_SYNC_MIN_INTERVAL:-15}
staging=$dir/.staging

log() { printf 'flowmon-inventory-sync: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 64; }

for value in "$interval" "$min_interval"; do
    case $value in '' | *[!0-9]*) die "FLOWMON_SYNC_INTERVAL and FLOWMON_SYNC_MIN_INTERVAL must be whole seconds" ;; esac
done
mkdir -p "$dir/policies" "$staging" || die "cannot create $dir/policies and $staging"
# Files are read by the flowmon user after it drops root: world-readable, never writable.
umask 022

# kind NAME: what `kubectl get` lists for the inventory file NAME, and where it goes.
resource_of() {
    case $1 in
        pods) echo pods ;;
        services) echo services,endpointslices.discovery.k8s.io ;;
        namespaces) echo namespaces ;;
        nodes) echo nodes ;;
        ciliumnetworkpolicies) echo ciliumnetworkpolicies.cilium.io ;;
        ciliumclusterwidenetworkpolicies) echo ciliumclusterwidenetworkpolicies.cilium.io ;;
        networkpolicies) echo networkpolicies.networking.k8s.io ;;
    esac
}
target_of() {
    case $1 in
        pods | services | namespaces | nodes) echo "$dir/$1.json" ;;
        *) echo "$dir/policies/$1.json" ;;
    esac
}
all="pods services namespaces nodes ciliumnetworkpolicies ciliumclusterwidenetworkpolicies networkpolicies"

# sync NAME: list it, and put the file in place if it changed. Status 1 when kubectl failed.
sync() {
    name=$1
    target=$(target_of "$name")
    tmp=$staging/$name.json
    err=$staging/$name.err
    # A list that hangs (API server unreachable) fails after a minute instead of stalling the loop.
    set -- get "$(resource_of "$name")" -o json --request-timeout=60s
    case $name in
        namespaces | nodes | ciliumclusterwidenetworkpolicies) ;;  # cluster-scoped
        pods) set -- "$@" -A --field-selector=status.phase!=Succeeded,status.phase!=Failed ;;
        *) set -- "$@" -A ;;
    esac
    if ! "$kubectl" "$@" >"$tmp" 2>"$err"; then
        if grep -q "the server doesn't have a resource type" "$err"; then
            # The cluster does not serve this kind (e.g. no Cilium CRDs): it has none of them.
            printf '{"apiVersion":"v1","kind":"List","items":[]}\n' >"$tmp"
        else
            log "kubectl $*: $(tr '\n' ' ' <"$err")(keeping the previous $target)"
            rm -f "$tmp" "$err"
            return 1
        fi
    fi
    rm -f "$err"
    if [ -e "$target" ] && cmp -s "$tmp" "$target"; then
        rm -f "$tmp"
    else
        mv -f "$tmp" "$target" || { log "cannot rename $tmp to $target"; return 1; }
        log "updated $target"
    fi
    return 0
}

sync_all() {
    failed=0
    for name in $all; do sync "$name" || failed=1; done
    return $failed
}

# FLOWMON_SYNC_ONCE=1: one sync, status 1 unless every kind was read.
if [ "${FLOWMON_SYNC_ONCE:-0}" = 1 ]; then
    sync_all || exit 1
    : >"$dir/.synced"
    exit 0
fi
# The first complete sync, retried until every kind was read once.
until sync_all; do
    log "first sync incomplete; retrying in 5s"
    sleep 5
done
: >"$dir/.synced"
log "inventory complete in $dir"

# The watchers: one `kubectl get --watch-only -o name` per resource, appending a line per
# change to $staging/KEY.events (the kind to re-read is KIND). A watcher that ended (API server
# timeout, kind not served) is started again, at most once a minute.
watchers="pods:pods:pods services:services:services endpointslices:services:endpointslices.discovery.k8s.io"
for name in ciliumnetworkpolicies ciliumclusterwidenetworkpolicies networkpolicies; do
    watchers="$watchers $name:$name:$(resource_of "$name")"
done
pids=
watch_all() {
    now=$(date +%s)
    pids=
    for watcher in $watchers; do
        key=${watcher%%:*}
        resource=${watcher##*:}
        eval "pid=\${pid_$key:-} started=\${started_$key:-0}"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            pids="$pids $pid"
        elif [ $((now - started)) -ge 60 ]; then
            "$kubectl" get "$resource" -A --watch-only -o name >>"$staging/$key.events" 2>/dev/null &
            eval "pid_$key=$! started_$key=$now"
            pids="$pids $!"
        fi
    done
}
stop() {
    [ -z "$pids" ] || kill $pids 2>/dev/null
    exit 0
}
trap stop TERM INT

last_full=$(date +%s)
while :; do
    watch_all
    sleep "$min_interval" &
    wait $!
    now=$(date +%s)
    if [ $((now - last_full)) -ge "$interval" ]; then
        for watcher in $watchers; do : >"$staging/${watcher%%:*}.events"; done
        sync_all
        last_full=$now
        continue
    fi
    changed=
    for watcher in $watchers; do
        key=${watcher%%:*}
        rest=${watcher#*:}
        if [ -s "$staging/$key.events" ]; then
            : >"$staging/$key.events"
            changed="$changed ${rest%%:*}"
        fi
    done
    for name in $all; do
        case " $changed " in *" $name "*) sync "$name" ;; esac
    done
done
