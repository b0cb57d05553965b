#!/usr/bin/env bash
# Set up as run.sh does, then run the whole test suite (extra arguments go to pytest).
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"
.venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
exec .venv/bin/python -m pytest -q tests "$@"
