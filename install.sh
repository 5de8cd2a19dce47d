#!/usr/bin/env bash
# Install Salience Studio into ./.venv (idempotent: safe to run again).
#
#   ./install.sh          CPU install (JAX on CPU)
#   ./install.sh --gpu    also installs JAX with CUDA 12 (requirements-gpu.txt)
#
# keras-hub is installed with --no-deps: its wheel requires tensorflow-text, which pulls
# TensorFlow (+2 GB). We need neither; its real runtime needs are in requirements.txt.
set -euo pipefail

cd "$(dirname "$0")"

GPU=0
for arg in "$@"; do
    case "$arg" in
        --gpu) GPU=1 ;;
        -h|--help)
            sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *)
            echo "install.sh: unknown option '$arg' (use --gpu or --help)" >&2
            exit 2 ;;
    esac
done

say() { echo "==> install.sh: $*"; }

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install.sh: '$PYTHON' not found; install Python 3.11 or newer (e.g. apt-get install -y python3 python3-venv)." >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "install.sh: Python 3.11 or newer is needed; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
    exit 1
fi

if [ -x .venv/bin/python ]; then
    say "using the existing virtual environment .venv"
else
    say "creating the virtual environment .venv"
    "$PYTHON" -m venv .venv
fi

PIP=(.venv/bin/python -m pip --disable-pip-version-check)

say "upgrading pip"
"${PIP[@]}" install --quiet --upgrade pip

say "installing runtime requirements (requirements.txt)"
"${PIP[@]}" install --quiet -r requirements.txt

say "installing keras-hub without its TensorFlow dependencies (requirements-nodeps.txt)"
"${PIP[@]}" install --quiet --no-deps -r requirements-nodeps.txt

if [ "$GPU" = 1 ]; then
    say "installing JAX with CUDA 12 (requirements-gpu.txt)"
    "${PIP[@]}" install --quiet -r requirements-gpu.txt
fi

# Fail loudly if anything dragged TensorFlow in after all.
if .venv/bin/python -c 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("tensorflow") is None else 1)'; then
    say "checked: TensorFlow is not installed"
else
    echo "install.sh: TensorFlow got installed into .venv; it must not be (see requirements-nodeps.txt)." >&2
    exit 1
fi

say "done. Start the app with:  .venv/bin/streamlit run app.py"
