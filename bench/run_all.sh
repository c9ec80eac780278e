#!/usr/bin/env bash
# Every benchmark in bench/, in order, from the repository root. Arguments go to every LM step
# (--lm X [--api-base URL]); SIM_LM sets the LLM simulator's LM, N_SESSIONS the most test users per
# dataset, MINUTES the time per dataset after which no session starts, PYTHON the interpreter. With the embedded local model on a 2-core CPU this takes many hours (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
N="${N_SESSIONS:-10}"
MINUTES="${MINUTES:-45}"
for dataset in ml-latest-small steam beauty; do
  "$PY" -m afirs_dspy.cli train-recsys --dataset "$dataset"
  "$PY" -m afirs_dspy.cli build-tree --dataset "$dataset" "$@"
done
"$PY" bench/dataset_stats.py
"$PY" bench/speakable_attributes.py
"$PY" bench/recsys_bench.py
"$PY" bench/tool_latency.py
"$PY" bench/lm_speed.py
"$PY" bench/signature_quality.py
"$PY" bench/json_decoding.py
"$PY" bench/interactive.py --n-sessions "$N" --minutes "$MINUTES" "$@"
"$PY" bench/candidate_hit_rate.py "$@"
"$PY" bench/compile_effect.py "$@"
"$PY" bench/interactive.py --simulator llm --datasets ml-latest-small --methods zero-shot,interecagent,afirs,decision-first \
  --n-sessions 3 --minutes "$MINUTES" ${SIM_LM:+--sim-lm "$SIM_LM"} "$@"
