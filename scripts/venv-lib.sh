# Sourced by the set-up scripts: the cache root they share, their lock, and
# the one way they build a virtualenv. Output goes to stderr; stdout is the scripts'
# answer (a bin directory).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/auto-tune-vllm
PYTHON=${PYTHON:-python3}

# lock NAME holds an exclusive lock until the script exits, so a second
# caller (.ci/run starts the set-up in the background, then make asks again)
# waits for the first one's result instead of installing beside it.
lock() {
  mkdir -p "$cache"
  exec 9>"$cache/.$1.lock"
  flock 9
}

# venv_install DIR PACKAGE... creates (or reuses) the venv at DIR with an
# up-to-date pip and installs the packages.
venv_install() {
  local dir=$1
  shift
  "$PYTHON" -m venv "$dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
}
