#!/usr/bin/env bash
# The main job on embedded defaults, from nothing to a detection served by the agent:
# synthetic Lookout dataset -> train -> evaluate -> compile -> package (local folder) ->
# deploy with the nucleus harness -> start the model -> detect.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${SKIP_SETUP:-0}" != 1 || ! -x .venv/bin/python ]]; then scripts/setup.sh; fi
. .venv/bin/activate

OUT=${DEMO_OUT:-demo-output}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export EDGE_RUNTIME_HOME="$OUT/home"   # packaging jobs' state database, kept apart from other runs
SOCKET="unix://$(mktemp -d /tmp/edge-demo.XXXXXX)/agent.sock"
step() { printf '\n==> %s\n' "$*"; }
DEPLOY_PID=
cleanup() {
  if [[ -n "$DEPLOY_PID" ]]; then kill -TERM "$DEPLOY_PID" 2>/dev/null || true; wait "$DEPLOY_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

step "1. synthetic Lookout dataset (textured parts; scratch, dent, crack)"
edge-runtime dataset synth --output "$OUT/data"

step "2. train a segmentation model on the CPU"
edge-runtime train --task segmentation --name demo-model \
  --manifest "$OUT/data/segmentation-train.manifest" \
  --test-manifest "$OUT/data/segmentation-test.manifest" \
  --output "$OUT/model"

step "3. evaluate it the way Lookout did"
edge-runtime evaluate --model "$OUT/model" --manifest "$OUT/data/segmentation-test.manifest" \
  --output "$OUT/evaluation"

step "4. compile for this x86-64 CPU (an ONNX Runtime build honouring Lookout's mcpu option)"
edge-runtime compile --model "$OUT/model" --target-platform Os=LINUX,Arch=X86_64 \
  --compiler-options '{"mcpu": "core-avx2"}' --output "$OUT/compiled"

step "5. package the agent and the model as Greengrass components (local folder, S3 layout)"
edge-runtime package agent --output-dir "$OUT/components"
edge-runtime package start --model "$OUT/model" --component-name demo-model \
  --target-platform Os=LINUX,Arch=X86_64 --compiler-options '{"mcpu": "core-avx2"}' \
  --output-dir "$OUT/components"

step "6. deploy both components with the nucleus harness (runs the recipes' lifecycles like Greengrass)"
python -m tests.packaging.deploy_local --components "$OUT/components" --root "$OUT/device" \
  --config "EdgeRuntime.Agent={\"socket\": \"$SOCKET\"}" --reuse-site-packages &
DEPLOY_PID=$!

step "7. start the model on the agent and wait until it is RUNNING"
for _ in $(seq 1 240); do
  edge-runtime models list --socket "$SOCKET" 2>/dev/null | grep -q demo-model && break
  kill -0 "$DEPLOY_PID" 2>/dev/null || { echo "deployment ended early; logs in $OUT/device/logs" >&2; exit 1; }
  sleep 0.5
done
edge-runtime models start demo-model --wait --socket "$SOCKET"
edge-runtime models list --socket "$SOCKET"

step "8. detect: a normal part and an anomalous one, through the agent's Lookout Edge Agent API"
edge-runtime detect "$OUT/data/images/test/normal-0000.png" --model demo-model --socket "$SOCKET"
edge-runtime detect "$OUT/data/images/test/anomaly-0000.png" --model demo-model --socket "$SOCKET" \
  --mask-out "$OUT/anomaly-0000-mask.png"

step "done"
echo "evaluation:   $OUT/evaluation"
echo "components:   $OUT/components (recipes/, artifacts/)"
echo "mask:         $OUT/anomaly-0000-mask.png"
