#!/usr/bin/env bash
# System packages the tests need: bubblewrap (the code sandbox). Installs them if missing, with sudo when
# not root. A fresh CI machine has none of them.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
echo "installing bubblewrap (needed by the code sandbox tests)"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq bubblewrap >/dev/null
