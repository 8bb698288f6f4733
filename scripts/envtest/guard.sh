#!/usr/bin/env bash
# guard.sh <parent-pid> -- <command...>: runs the command and stops it when the parent process is
# gone, so a crashed test run never leaves an API server or etcd behind.
parent=$1; shift; [ "${1:-}" = "--" ] && shift
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -TERM "$child" 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
kill -KILL "$child" 2>/dev/null
wait "$child"
