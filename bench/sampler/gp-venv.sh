#!/usr/bin/env bash
# Creates (once) the sampler benchmark's own virtualenv for Optuna's
# GPSampler: optuna, scipy and a CPU-usable torch. PyPI's torch wheel depends
# on several GB of CUDA packages, so it is installed with --no-deps plus its
# pure-Python dependencies; `import torch` then runs on the CPU. Kept apart
# from scripts/optuna-venv.sh so `make test` never pulls torch. Prints the bin
# directory.
set -euo pipefail
. "$(dirname "$0")/../../scripts/venv-lib.sh"

OPTUNA_VERSION=${OPTUNA_VERSION:-5.0.0}
VENV=${OPTUNA_GP_VENV:-$cache/optuna-gp-$OPTUNA_VERSION}
stamp="$VENV/.atv-installed-$OPTUNA_VERSION-torch"

if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin"
  exit 0
fi

echo "installing optuna==$OPTUNA_VERSION, scipy and torch (no CUDA deps) into $VENV" >&2
venv_install "$VENV" "optuna==$OPTUNA_VERSION" scipy greenlet filelock typing-extensions sympy networkx jinja2 fsspec
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps torch >&2
"$VENV/bin/python" -c 'import torch, optuna; torch.ones(2).sum(); optuna.samplers.GPSampler(seed=0)' >&2
touch "$stamp"
echo "$VENV/bin"
