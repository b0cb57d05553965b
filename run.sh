#!/usr/bin/env bash
# The main job: set up, start a master and two slaves on loopback, send every file of
# ../shared/corpus (or the paths given, or a made-up sample set), report, stop.
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"
exec .venv/bin/python -m scripts.demo "$@"
