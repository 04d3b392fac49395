#!/usr/bin/env bash
# Creates (once) a virtualenv with a pinned ray[default] from PyPI and prints its bin directory.
# Idempotent: a venv whose ray already reports the pinned version is reused as is.
#
#   RAY_VERSION   pinned Ray version (default below)
#   RAY_VENV      where the venv lives (default: $XDG_CACHE_HOME/auto-tune-vllm/ray-<version>)
#   PYTHON        interpreter used to create it (default: python3)
set -euo pipefail

RAY_VERSION=${RAY_VERSION:-2.60.0}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/auto-tune-vllm
RAY_VENV=${RAY_VENV:-$cache/ray-$RAY_VERSION}
PYTHON=${PYTHON:-python3}

if [ -x "$RAY_VENV/bin/ray" ] && \
   [ "$("$RAY_VENV/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null)" = "$RAY_VERSION" ]; then
  echo "$RAY_VENV/bin"
  exit 0
fi

echo "installing ray[default]==$RAY_VERSION into $RAY_VENV" >&2
"$PYTHON" -m venv "$RAY_VENV" >&2
"$RAY_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
"$RAY_VENV/bin/python" -m pip install -q --disable-pip-version-check "ray[default]==$RAY_VERSION" >&2
"$RAY_VENV/bin/ray" --version >&2
echo "$RAY_VENV/bin"
