#!/bin/bash
# usage: scripts/node-suite/run.sh [--sim] DIR/test/parallel/test-net-x.js ...
# Runs each test once on node:net and once with require('net') swapped for wasinet (or, with
# --sim, for a sim stack); prints "name node=RC wasinet=RC" (0 = pass). Logs go to DIR/out/.
here=$(cd "$(dirname "$0")" && pwd)
swap=$here/swap.cjs
if [ "$1" = --sim ]; then swap=$here/swap-sim.cjs; shift; fi
for f in "$@"; do
  f=$(realpath "$f"); n=$(basename "$f"); out=$(dirname "$f")/../../out; mkdir -p "$out"
  ( cd "$(dirname "$f")"
    timeout 30 node "$n" > "$out/$n.node.log" 2>&1; a=$?
    NODE_OPTIONS="--require $swap" timeout 30 node "$n" > "$out/$n.wasinet.log" 2>&1; b=$?
    echo "$n node=$a wasinet=$b" )
done
