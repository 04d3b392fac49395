#!/usr/bin/env bash
# debian-pkg.sh PACKAGE GLOB: makes sure a Debian package the tests need is
# installed and prints the first path matching GLOB (its binary), installing
# the package with apt-get when nothing matches. Root runs apt-get directly;
# others through `sudo -n` when they may. One lock for every caller: dpkg
# takes a single installer at a time.
set -euo pipefail
. "$(dirname "$0")/venv-lib.sh"
pkg=$1 glob=$2

found() { compgen -G "$glob" | sort -V | tail -n 1; }
if p=$(found) && [ -n "$p" ]; then echo "$p"; exit 0; fi
lock apt
if p=$(found) && [ -n "$p" ]; then echo "$p"; exit 0; fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "the tests need Debian's $pkg: run 'sudo apt-get install $pkg' once" >&2
  exit 1
fi
echo "installing $pkg (apt-get)" >&2
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$pkg" >&2
p=$(found) && [ -n "$p" ] || { echo "$pkg installed but nothing matches $glob" >&2; exit 1; }
echo "$p"
