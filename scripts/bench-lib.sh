# bench-lib.sh -- shared by scripts/bench-replay and scripts/bench-peers (source it; needs $out and $runs).
#
# measure LABEL COMMAND...  runs COMMAND $runs times (stdout to $out/last.stdout, stderr to
#   $out/last.stderr) and sets best_wall (s, lowest of the runs, from the nanosecond clock),
#   best_cpu (user+sys s of that run) and best_rss (peak RSS KiB of that run, from /usr/bin/time).
measure() {
  local label=$1; shift
  best_wall="" best_cpu="" best_rss=""
  local i tf t0 t1 user sys rss wall cpu
  tf=$(mktemp)
  for ((i = 1; i <= runs; i++)); do
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$tf" "$@" </dev/null >"$out/last.stdout" 2>"$out/last.stderr" \
      || { echo "bench: '$label' failed: $(tail -1 "$out/last.stderr")" >&2; }
    t1=$(date +%s%N)
    read -r user sys rss <"$tf"
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')
    if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN{exit !(a<b)}'; then
      best_wall=$wall best_cpu=$cpu best_rss=$rss
    fi
  done
  rm -f "$tf"
}

# row LABEL FLOWS  formats the last measurement: packets, seconds, Mpps, ratio to $base_wall,
#   CPU s, RSS MiB, flows (needs $npackets and $base_wall).
row() {
  local label=$1 fl=$2 mpps ratio
  mpps=$(awk -v p="$npackets" -v t="$best_wall" 'BEGIN{ if (t>0) printf "%.2f", p/t/1e6; else print "inf" }')
  ratio=$(awk -v t="$best_wall" -v b="$base_wall" 'BEGIN{ if (t>0) printf "%.2f", b/t; else print "n/a" }')
  printf '%-48s %9s %8s %7s %7s %7s %8s %9s\n' "$label" "$npackets" "$best_wall" "$mpps" "$ratio" "$best_cpu" \
    "$(awk -v k="$best_rss" 'BEGIN{printf "%.1f", k/1024}')" "$fl"
}
