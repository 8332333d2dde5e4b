#!/bin/bash
# scripts/random-diff/run.sh [SCRIPT] FROM TO: runs SCRIPT (http.mjs unless given: http.mjs or
# socket.mjs) for seeds FROM..TO on wasinet and node:net and prints the seeds whose wasinet log is
# none of up to four node:net logs (two wasinet tries).
cd "$(dirname "$0")"
S=http.mjs
if [[ "$1" == *.mjs ]]; then S=$1; shift; fi
for s in $(seq "$1" "$2"); do
  b=$(timeout 20 node $S wasi "$s" 2>&1); ok=0; logs=()
  for k in 1 2 3 4; do a=$(timeout 20 node $S node "$s" 2>&1); logs+=("$a"); if [ "$a" == "$b" ]; then ok=1; break; fi; done
  if [ $ok == 0 ]; then b2=$(timeout 20 node $S wasi "$s" 2>&1); for a in "${logs[@]}"; do [ "$a" == "$b2" ] && ok=1; done; fi
  if [ $ok == 0 ]; then echo "DIFF seed $s"; diff <(echo "${logs[0]}") <(echo "$b") | head -10; fi
done
