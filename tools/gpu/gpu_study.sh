#!/usr/bin/env bash
# The full-SQuAD study on one lent GPU (issue #20), offline, from a checkout plus the carried gpu_bundle/
# (python tools/gpu/make_gpu_bundle.py builds it here). docs/training.md, "GPUs and several processes", has the plan.
#
#   bash tools/gpu/gpu_study.sh --smoke              # versions, a throughput probe, CUDA tests, the study on 256 questions
#   bash tools/gpu/gpu_study.sh                      # the study: start/end, GP span-softmax CE, the default recipe
#   bash tools/gpu/gpu_study.sh --checks             # the same, with the CUDA tests run beside it (one call does all)
#   bash tools/gpu/gpu_study.sh --smoke --device cpu # the smoke mode on a CPU machine (no CUDA tests)
#
# Options: --seeds "42 43 44" (run side by side, two processes each: a MiniLM step is too small to fill the GPU),
# --budget SECONDS (default 540 full / 300 smoke / 3600 with --device cpu: runs still going then are stopped
# and whatever finished is packed), --out DIR (default $OUT, else runs/gpu_study/out).
# Writes into DIR: results.tar.gz (results/<study>/<variant>-seed<N>.json, the CPU studies' result files),
# report.md (scripts/study.py report), study.log (everything printed, with stage timings), logs.tar.gz (each
# run's train.log and jsonl logs), cuda_tests.log; at most 8 files, as the device tool returns.
set -uo pipefail
cd "$(dirname "$0")/../.."  # the repository root: tools/gpu/ is two levels down
ROOT=$PWD
START=$(date +%s)
MODE=full DEVICE=cuda SEEDS="" BUDGET="" CHECKS=0 TESTS_PID="" OUTDIR="${OUT:-$ROOT/runs/gpu_study/out}"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) MODE=smoke ;;
    --checks) CHECKS=1 ;;
    --device) DEVICE="$2"; shift ;;
    --seeds) SEEDS="$2"; shift ;;
    --budget) BUDGET="$2"; shift ;;
    --out) OUTDIR="$2"; shift ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
case "$DEVICE" in cuda|cpu) ;; *) echo "error: --device must be cuda or cpu, got $DEVICE" >&2; exit 2 ;; esac
[ "$DEVICE" = cpu ] && BUDGET=${BUDGET:-3600}  # a CPU needs minutes where a GPU needs seconds
if [ "$MODE" = smoke ]; then STUDY=squad_v1_full_smoke; SEEDS=${SEEDS:-42}; BUDGET=${BUDGET:-300}
else STUDY=squad_v1_full; SEEDS=${SEEDS:-"42 43 44"}; BUDGET=${BUDGET:-540}; fi
BUNDLE=$ROOT/gpu_bundle WORK=$ROOT/runs/gpu_study
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR" "$WORK"
LOG=$OUTDIR/study.log
exec > >(tee -a "$LOG") 2>&1
stage() { echo "[gpu_study +$(( $(date +%s) - START ))s] $*"; }
[ -f "$BUNDLE/manifest.json" ] || { echo "error: $BUNDLE/manifest.json missing: run python tools/gpu/make_gpu_bundle.py here and carry gpu_bundle"; exit 2; }
stage "mode $MODE, study $STUDY, device $DEVICE, seeds $SEEDS, budget ${BUDGET}s, out $OUTDIR"

export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ "$DEVICE" = cpu ] && export CUDA_VISIBLE_DEVICES=""
# 1. missing packages, from the carried wheels (never over what the machine has: --target, put first on the path)
if ! $PY -c "import datasets, evaluate" 2>/dev/null; then
  stage "installing $(ls "$BUNDLE"/wheels | tr '\n' ' ')"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
      "$BUNDLE"/wheels/*.whl || { echo "error: pip could not install the carried wheels"; exit 3; }
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
$PY - <<'EOF' || { echo "error: the packages above do not import together (see the traceback)"; exit 3; }
import importlib, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")
for name in ("transformers", "accelerate", "tokenizers", "datasets", "evaluate", "pyarrow", "pandas", "fsspec",
             "huggingface_hub", "dill", "multiprocess", "xxhash", "numpy", "safetensors"):
    m = importlib.import_module(name)
    print(f"  {name} {getattr(m, '__version__', '?')}")
import gp_mrc  # noqa: F401  (the package imports with these versions)
EOF
# 2. the data, unpacked beside the runs (not into the carried folder)
mkdir -p "$WORK/data/squad_v1.1"
for f in "$BUNDLE"/data/squad_v1.1/*.json.gz; do
  dst="$WORK/data/squad_v1.1/$(basename "${f%.gz}")"
  if [ ! -s "$dst" ]; then gunzip -c "$f" > "$dst.tmp" && mv -f "$dst.tmp" "$dst" || { echo "error: cannot unpack $f"; exit 3; }; fi
done
stage "data unpacked: $(ls "$WORK/data/squad_v1.1" | tr '\n' ' ')"
# 3. (on CUDA) the CUDA tests: before the smoke study, or beside the full study with --checks
cuda_tests() {
  timeout 240 $PY -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py > "$OUTDIR/cuda_tests.log" 2>&1
  echo "[gpu_study] CUDA tests: exit $?" >> "$OUTDIR/cuda_tests.log"
}
if [ "$DEVICE" = cuda ] && [ "$MODE" = smoke ]; then
  cuda_tests; cat "$OUTDIR/cuda_tests.log"
elif [ "$DEVICE" = cuda ] && [ "$CHECKS" = 1 ]; then
  cuda_tests & TESTS_PID=$!
fi
export GP_MRC_SHARED_DATA="$WORK/data" GP_MRC_STUDY_RESULTS="$OUTDIR/results" GP_MRC_STUDY_RUNS="$WORK/runs"
# 4. (smoke) a throughput probe: the full study's GlobalPointer run for PROBE_STEPS steps of real windows, no
#    evaluation; its windows/s sizes the full call (a full run trains 95,650 windows)
if [ "$MODE" = smoke ]; then
  PROBE_STEPS=$([ "$DEVICE" = cuda ] && echo 150 || echo 2)
  probe=$($PY scripts/study.py commands --study squad_v1_full --variants gp_sm_ad0 --seeds 42 | head -1)
  rm -rf "$WORK/probe"
  # shellcheck disable=SC2086  # the study's training command (-m gp_mrc_lab.train_variant ...), split on spaces
  $PY ${probe#python } --max_train_samples 8000 --max_train_steps "$PROBE_STEPS" --do_eval no \
      --output_dir "$WORK/probe" > "$WORK/probe.log" 2>&1
  $PY - "$WORK/probe/train_results.json" <<'PROBE' || { echo "error: the probe failed:"; tail -20 "$WORK/probe.log"; exit 4; }
import json, sys
r = json.load(open(sys.argv[1]))
print(f"probe: {r['train_steps']} steps of 32 windows in {r['train_seconds']} s = {r['train_windows_per_second']} "
      f"windows/s on {r.get('device')} ({r.get('mixed_precision')}); a full run's 95,650 windows at this rate: "
      f"~{95650 / r['train_windows_per_second']:.0f} s of training")
PROBE
  stage "probe done"
fi
# 5. the study: two processes per seed (start/end; GP trunk → branch), all side by side, stopped at the budget (whatever finished stays)
LEFT=$(( BUDGET - ($(date +%s) - START) - 30 ))  # 30 s to pack
stage "study: ${LEFT}s left for it"
[ "$LEFT" -ge 60 ] || { echo "error: the budget (${BUDGET}s) leaves no time for the study: raise --budget"; exit 5; }
# Two processes a seed: the start/end run beside the GlobalPointer trunk and its branch (the trunk → branch chain
# is the longer one), so that a budget stop leaves same-seed pairs rather than every seed's first variant only.
pids=() names=()
for seed in $SEEDS; do
  for group in start_end_ad0 "gp_sm_ad0 gp_sm_ad0__f1_added"; do
    name="seed$seed-${group%% *}"
    # shellcheck disable=SC2086  # the group's variants, split on spaces
    timeout "$LEFT" $PY scripts/study.py run --study "$STUDY" --variants $group --seeds "$seed" \
        > "$WORK/$name.log" 2>&1 &
    pids+=($!) names+=("$name")
  done
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"; rc=$?
  stage "${names[$i]} ended (exit $rc$([ $rc = 124 ] && echo ': stopped at the budget'))"
done
cat "$WORK"/seed*.log | grep -v "it/s\]\|s/it\]"
if [ -n "$TESTS_PID" ]; then wait "$TESTS_PID"; cat "$OUTDIR/cuda_tests.log"; fi
# 6. pack (the device tool returns at most 8 files)
$PY scripts/study.py report --study "$STUDY" > "$OUTDIR/report.md" 2>&1 || true
tar -C "$OUTDIR" -czf "$OUTDIR/results.tar.gz" results 2>/dev/null && rm -rf "$OUTDIR/results"
(cd "$WORK" && tar -czf "$OUTDIR/logs.tar.gz" --exclude='*.safetensors' --exclude=checkpoints \
    --exclude=.gp_mrc_cache --exclude='*predictions.json' --exclude=null_odds.json "runs/$STUDY" seed*.log)
stage "done: $(ls "$OUTDIR" | tr '\n' ' ')"
cat "$OUTDIR/report.md"
