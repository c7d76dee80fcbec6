#!/bin/bash
# usage: benches/rss.sh BENCH_BINARY SECONDS OUT  (BENCH_BINARY: target/release/deps/sessions-*) — runs the sessions bench (flat page, 16 connections)
# and samples every 5 s: requests so far are not known, so time; server RSS
# (the bench process: server in-process + client) and the private memory
# (RssAnon) of the cluster's backends of database screenplay_bench.
BIN=$1; SECS=$2; OUT=$3
export RUST_LOG=${RUST_LOG:-warn}   # SCREENPLAY_HOME / SCREENPLAY_DB_PORT as for the bench
$BIN --flat --seconds $SECS --concurrency 16 > $OUT.bench 2>&1 &
BPID=$!
echo "t_s server_rss_mib backends backends_anon_mib" > $OUT
t=0
while kill -0 $BPID 2>/dev/null; do
  sleep 5; t=$((t+5))
  srv=$(awk '/VmRSS/{print $2}' /proc/$BPID/status 2>/dev/null)
  n=0; anon=0
  for p in $(pgrep -f "postgres: .* screenplay_bench"); do
    a=$(awk '/RssAnon/{print $2}' /proc/$p/status 2>/dev/null); [ -n "$a" ] && { anon=$((anon+a)); n=$((n+1)); }
  done
  echo "$t $((srv/1024)) $n $((anon/1024))" >> $OUT
done
