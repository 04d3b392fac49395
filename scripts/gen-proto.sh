#!/usr/bin/env bash
# Regenerates third_party/ray/rpcpb from third_party/ray/proto. Needs Debian's
# protobuf-compiler; the Go plugins are installed at pinned versions into a
# private GOBIN so the result is reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
bin=$(pwd)/.cache/protoc-bin
mkdir -p "$bin"
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
mkdir -p third_party/ray/rpcpb
PATH=$bin:$PATH protoc -I third_party/ray/proto \
  --go_out=third_party/ray/rpcpb --go_opt=paths=source_relative \
  --go-grpc_out=third_party/ray/rpcpb --go-grpc_opt=paths=source_relative \
  third_party/ray/proto/gcs.proto
