#!/usr/bin/env bash
# Creates (once) a virtualenv with a pinned ray[default] from PyPI and prints its bin directory.
# Idempotent: a venv whose ray already reports the pinned version is reused as is.
#
#   RAY_VERSION   pinned Ray version (default below)
#   RAY_VENV      where the venv lives (default: $XDG_CACHE_HOME/auto-tune-vllm/ray-<version>)
#   PYTHON        interpreter used to create it (default: python3)
set -euo pipefail

. "$(dirname "$0")/venv-lib.sh"
RAY_VERSION=${RAY_VERSION:-2.60.0}
RAY_VENV=${RAY_VENV:-$cache/ray-$RAY_VERSION}
lock "ray-$RAY_VERSION"

if [ -x "$RAY_VENV/bin/ray" ] && \
   [ "$("$RAY_VENV/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null)" = "$RAY_VERSION" ]; then
  echo "$RAY_VENV/bin"
  exit 0
fi

echo "installing ray[default]==$RAY_VERSION into $RAY_VENV" >&2
venv_install "$RAY_VENV" "ray[default]==$RAY_VERSION"
"$RAY_VENV/bin/ray" --version >&2
echo "$RAY_VENV/bin"
