#!/usr/bin/env bash
# Build Isaac Lab 3's own environment for the Isaac Lab backend (`lmrl train --backend isaaclab`):
#   .venv-isaaclab/                 Python venv: isaaclab 3.0.0 (kit-less, no Isaac Sim), Newton with the
#                                   MuJoCo-Warp solver, rsl-rl-lib, onnx/onnxruntime, torch (CPU here)
#   .venv-isaaclab/usd-converter/   mujoco-usd-converter and its MuJoCo 3.16 / usd-exchange (pip --target;
#                                   run with `python -S`, its pxr must not meet usd-core's)
#   .venv-isaaclab/lmrl-assets/     local USD of our vendored MJCF robots + a collision-plane ground
# Kept apart from .venv: newton[sim] pins mujoco 3.12, the main venv runs MuJoCo 4.
#
# Why each step (facts checked on Python 3.11 / torch 2.13.0 CPU): the isaaclab wheel declares
# Python 3.12 and torch==2.11.0 (+ Isaac Sim, teleop, rendering extras we do not use), so it is
# installed with --no-deps --ignore-requires-python and its runtime needs are listed below.
#
# Idempotent: a second run only checks (stamp file; assets are re-made when the MJCF changes).
# Usage: bash scripts/setup_isaaclab.sh      Environment: PYTHON (default python3),
#        LMRL_ISAACLAB_VENV (default .venv-isaaclab), TORCH_SPEC (default torch==2.13.0; on a CUDA
#        machine e.g. "torch==2.11.0" from the PyTorch index of your CUDA version).
# The Warp kernel cache (~/.cache/warp, ~13 MB) turns a 39 s solver start into ~2 s: keep it in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LMRL_ISAACLAB_VENV:-.venv-isaaclab}
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
ISAACLAB_SPEC="isaaclab==3.0.0"
RUNTIME_DEPS=(
  "warp-lang==1.17.0" "newton[sim]==1.6.1" "newton-usd-schemas>=0.5" "usd-core>=25.5"
  "rsl-rl-lib==5.5.1" "hydra-core>=1.3" "gymnasium>=1.2" "lazy_loader>=0.4" "pyyaml>=6"
  "onnx>=1.17" "onnxscript>=0.3" "onnxruntime>=1.20" "tensordict>=0.15" "prettytable>=3.3" "psutil"
  "tensorboard" "packaging" "filelock" "typing-extensions>=4.12" "rich"
  "pyseccomp>=0.1.2" "landlock>=1.0.0.dev5"
)
CONVERTER_SPEC="mujoco-usd-converter==0.8.0"
WANT="isaaclab-env v3: $TORCH_SPEC $ISAACLAB_SPEC ${RUNTIME_DEPS[*]} $CONVERTER_SPEC"
stamp="$VENV/.lmrl-isaaclab-installed"
t0=$(date +%s)

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# pip's resolver lists every isaaclab requirement installed with --no-deps as a "conflict": expected.
quiet() { "$@" 2> >(grep -v -E "is ignored|requires |dependency resolver|incompatible" >&2); }
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$WANT" ]; then
  pip=(quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --upgrade pip
  # torch first, pinned, so nothing below pulls another (CUDA) build.
  "${pip[@]}" "$TORCH_SPEC"
  "${pip[@]}" --no-deps --ignore-requires-python "$ISAACLAB_SPEC"
  "${pip[@]}" "${RUNTIME_DEPS[@]}"
  # Our package, without its dependencies (MuJoCo 4 etc. stay in .venv): the worker imports only its
  # pure modules. Editable, so a checkout's changes reach it (the launcher also puts src/ first).
  "${pip[@]}" --no-deps -e .
  rm -rf "$VENV/usd-converter"
  "${pip[@]}" --target "$VENV/usd-converter" "$CONVERTER_SPEC"
  echo "$WANT" > "$stamp"
fi

# Local USD assets of our robots (re-made only when the MJCF changed).
PYTHONPATH="$VENV/usd-converter:$PWD/src" "$VENV/bin/python" -S \
  -m lm_reward_learning.isaaclab_backend.usd_assets --out "$VENV/lmrl-assets" go2 g1 2>&1 \
  | grep -E "^(INFO|ERROR|Traceback)|Error" || true
test -f "$VENV/lmrl-assets/go2/robot.usdc" && test -f "$VENV/lmrl-assets/g1/robot.usdc" \
  || { echo "setup_isaaclab: USD conversion failed (see above)" >&2; exit 1; }

PYTHONPATH="$PWD/src" "$VENV/bin/python" -c '
import importlib.metadata as md
import isaaclab_newton, isaaclab_rl, isaaclab_tasks, newton, rsl_rl, torch, warp  # noqa: F401
print("setup_isaaclab: ok (isaaclab", md.version("isaaclab"), "newton", md.version("newton"), "warp",
      md.version("warp-lang"), "torch", torch.__version__, ")")
'
echo "setup_isaaclab: $VENV ready in $(( $(date +%s) - t0 )) s"
