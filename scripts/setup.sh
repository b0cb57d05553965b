# Sourced by run.sh and test.sh: a virtual environment with the requirements, and
# tesseract from the system packages when it is missing and can be installed.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; found $("$PYTHON" --version 2>&1)" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "Installing the venv module for $PYTHON (python3-venv)..."
    as_root apt-get install -y -qq python3-venv >/dev/null \
      || { echo "Cannot create a virtual environment: install python3-venv" >&2; exit 2; }
    "$PYTHON" -m venv .venv
  fi
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt

TESSERACT_PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd tesseract-ocr-fra tesseract-ocr-deu"
if ! command -v tesseract >/dev/null; then
  echo "Installing tesseract from the system packages..."
  if command -v apt-get >/dev/null && as_root apt-get update -qq >/dev/null \
      && as_root apt-get install -y -qq $TESSERACT_PACKAGES >/dev/null; then
    echo "tesseract installed."
  else
    echo "tesseract is not installed and cannot be installed here: OCR is unavailable."
  fi
fi
