#!/usr/bin/env bash
# Creates (once) the sampler benchmark's own virtualenv for Optuna's
# GPSampler: optuna, scipy and torch. PyPI's Linux torch wheel is built
# against CUDA and will not import without its nvidia-* wheels (torch
# installed with --no-deps fails on libcudart), so it is installed with its
# dependencies: several GB, once; it then runs on the CPU. Kept apart from
# scripts/optuna-venv.sh so `make test` never pulls torch. Prints the bin
# directory.
set -euo pipefail
. "$(dirname "$0")/../../scripts/venv-lib.sh"

OPTUNA_VERSION=${OPTUNA_VERSION:-5.0.0}
VENV=${OPTUNA_GP_VENV:-$cache/optuna-gp}
stamp="$VENV/.atv-installed-$OPTUNA_VERSION-torch"

lock optuna-gp
if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin"
  exit 0
fi

echo "installing optuna==$OPTUNA_VERSION, scipy and torch into $VENV (several GB, once)" >&2
venv_install "$VENV" "optuna==$OPTUNA_VERSION" scipy torch
"$VENV/bin/python" -c 'import torch, optuna; torch.ones(2).sum(); optuna.samplers.GPSampler(seed=0)' >&2
touch "$stamp"
echo "$VENV/bin"
