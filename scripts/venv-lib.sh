# Sourced by the *-venv.sh scripts: the cache root they share and the one
# way they build a virtualenv. Output goes to stderr; stdout is the scripts'
# answer (a bin directory).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/auto-tune-vllm
PYTHON=${PYTHON:-python3}

# venv_install DIR PACKAGE... creates (or reuses) the venv at DIR with an
# up-to-date pip and installs the packages.
venv_install() {
  local dir=$1
  shift
  "$PYTHON" -m venv "$dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
}
