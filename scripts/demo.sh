#!/usr/bin/env bash
# The demo on embedded defaults: no database, broker or Gemini key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[demo]"
exec .venv/bin/imagejobs demo "$@"
