#!/usr/bin/env bash
# Side-by-side figures for the Ray auto-start (see bench/rayhead/main.go).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ATV_RAY_BIN:?set ATV_RAY_BIN (make bench does)}"
go run ./bench/rayhead -ray-bin "$ATV_RAY_BIN" -tool bin/auto-tune-vllm "$@"
