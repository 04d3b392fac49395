#!/usr/bin/env bash
# Prints the path of a Chromium for the HTML report's browser test,
# installing Debian's chromium package (apt-get) when none is found.
# Idempotent like ray-venv.sh; ATV_CHROMIUM, if set, is used as is.
set -euo pipefail
. "$(dirname "$0")/venv-lib.sh"

if [ -n "${ATV_CHROMIUM:-}" ]; then
  echo "$ATV_CHROMIUM"
  exit 0
fi
find_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
bin=$(find_chromium)
if [ -z "$bin" ]; then
  lock chromium
  bin=$(find_chromium)
fi
if [ -z "$bin" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "chromium is not installed and this user cannot install it: run 'apt-get install chromium' as root" >&2; exit 1; }
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null || { echo "chromium is not installed and there is no apt-get: install Chromium and set ATV_CHROMIUM to its path" >&2; exit 1; }
  echo "installing Debian's chromium package (for the HTML report's browser test)" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2 || {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2
  }
  bin=$(find_chromium)
fi
[ -n "$bin" ] || { echo "chromium was installed but is not on PATH" >&2; exit 1; }
echo "$bin"
