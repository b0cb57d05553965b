#!/usr/bin/env bash
# Set up as run.sh does, then run the whole test suite (extra arguments go to pytest).
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"
exec .venv/bin/python -m pytest -q tests "$@"
