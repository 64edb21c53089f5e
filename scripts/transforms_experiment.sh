#!/usr/bin/env bash
# The offset-transform experiment (docs/PROTOCOLS.md §5a): every transform, estimated on NTREX-128 and on the
# pool itself (transductive), for each model, on xquad-r, mlqa-r and xquad-mmlir; results into results/.
# The untransformed model's result is computed too (or reused), so every transformed row has its base.
#
# Usage: MLIR_BENCH_DATA=../shared/data bash scripts/transforms_experiment.sh [MODEL[:DTYPE] ...]
#   default models: me5-small:bfloat16 muse-v3 models/cpu-medium-rerun/mimo:bfloat16 minilm-l6
# Then: python scripts/transforms_table.py results   (the table of the closing note, with paired tests)
set -euo pipefail
cd "$(dirname "$0")/.."
TRANSFORMS=(center:ntrex center:pool shift:ntrex shift:pool lir:1:ntrex lir:2:ntrex lir:4:ntrex
            lir:1:pool lir:2:pool lir:4:pool procrustes:ntrex)
MODELS=("$@")
[[ ${#MODELS[@]} -gt 0 ]] || MODELS=(me5-small:bfloat16 muse-v3 models/cpu-medium-rerun/mimo:bfloat16 minilm-l6)
HEAVY="${HEAVY:-../shared/tools/heavy}"
for spec in "${MODELS[@]}"; do
  model="${spec%%:*}"; dtype="float32"; [[ "$spec" == *:* ]] && dtype="${spec#*:}"
  list="$model"
  for t in "${TRANSFORMS[@]}"; do list="$list,$model+$t"; done
  echo "== $model ($dtype)"
  $HEAVY mlir-bench run -m "$list" -t xquad-r -t mlqa-r -t xquad-mmlir --dtype "$dtype" --runs none --no-progress \
    > "/tmp/transforms-$(echo "$model" | tr '/' '_').log" 2>&1
  grep -E "transform .*estimation|wrote|reusing" "/tmp/transforms-$(echo "$model" | tr '/' '_').log" | tail -40
done
