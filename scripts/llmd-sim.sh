#!/usr/bin/env bash
# Builds (once) llm-d-inference-sim, a third-party vLLM-compatible server in
# Go, from the Go module proxy, and prints the binary's path. `go install`
# cannot fetch it (the proxy refuses the version list), so a throwaway module
# pins it and `go build` builds it (over an hour on a loaded 2-core machine:
# most of it is compiling github.com/openai/openai-go/v3 and the Kubernetes
# client). `make test-e2e` uses it; `make test` does not.
set -euo pipefail
VERSION=${LLMD_SIM_VERSION:-v0.10.2}
. "$(dirname "$0")/venv-lib.sh" # the shared cache root and lock
bin=$cache/llm-d-inference-sim-$VERSION
lock "llmd-sim-$VERSION"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building llm-d-inference-sim $VERSION (long: its dependencies include the Kubernetes client)" >&2
(
  cd "$work"
  go mod init atv-llmd-sim >/dev/null 2>&1
  go get "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim@$VERSION" >&2
  # A test fixture: built without optimisation or inlining (-N -l), which
  # cuts the compile time of its largest packages; its speed does not matter.
  go build -gcflags='all=-N -l' -ldflags='-s -w' -o "$work/sim" github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim >&2
)
mkdir -p "$cache"
mv "$work/sim" "$bin"
echo "$bin"
