#!/usr/bin/env bash
# Creates (once) a virtualenv with pinned Python Optuna, optuna-dashboard and
# a PostgreSQL driver, for the interop tests and the sampler benchmark, and
# prints its bin directory. Idempotent like ray-venv.sh.
set -euo pipefail
. "$(dirname "$0")/venv-lib.sh"

OPTUNA_VERSION=${OPTUNA_VERSION:-5.0.0}
DASHBOARD_VERSION=${DASHBOARD_VERSION:-0.21.0}
OPTUNA_VENV=${OPTUNA_VENV:-$cache/optuna-$OPTUNA_VERSION}
lock "optuna-$OPTUNA_VERSION"
stamp="$OPTUNA_VENV/.atv-installed-$OPTUNA_VERSION-$DASHBOARD_VERSION-psycopg3"

if [ -f "$stamp" ] && [ -x "$OPTUNA_VENV/bin/python" ]; then
  echo "$OPTUNA_VENV/bin"
  exit 0
fi

echo "installing optuna==$OPTUNA_VERSION optuna-dashboard==$DASHBOARD_VERSION into $OPTUNA_VENV" >&2
venv_install "$OPTUNA_VENV" "optuna==$OPTUNA_VERSION" "optuna-dashboard==$DASHBOARD_VERSION" "psycopg[binary]"
touch "$stamp"
echo "$OPTUNA_VENV/bin"
