"""The installed environment is what install.sh promises: no TensorFlow, JAX backend, pinned deps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
# A requirement may stay unpinned only if its line says why, e.g. `numpy  # unpinned: <reason>`.
UNPINNED_MARK = "# unpinned:"


def _run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: this process may already have imported keras or changed sys.modules.
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _requirement_lines(name: str) -> list[tuple[int, str, str]]:
    """(line number, requirement text, trailing comment) for each requirement line of a file."""
    rows = []
    for n, raw in enumerate((REPO / name).read_text().splitlines(), start=1):
        text, _, comment = raw.partition("#")
        if text.strip():
            rows.append((n, text.strip(), ("#" + comment).strip() if comment else ""))
    return rows


@pytest.mark.parametrize("module", ["tensorflow", "tensorflow_text"])
def test_tensorflow_is_not_installed(module: str) -> None:
    result = _run_python(f"import {module}")
    assert result.returncode != 0, f"`import {module}` succeeded; install.sh must not pull it in"
    assert f"ModuleNotFoundError: No module named '{module}'" in result.stderr, result.stderr


def test_keras_hub_imports_without_tensorflow() -> None:
    # keras-hub came in with --no-deps: it must still import, and must not have imported TF.
    result = _run_python(
        "import lib, sys, keras_hub; print('tensorflow' in sys.modules, keras_hub.__version__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", metadata.version("keras-hub")]


def test_importing_lib_selects_the_jax_backend() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = _run_python("import lib, keras; print(keras.backend.backend())", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jax"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-nodeps.txt"])
def test_runtime_requirements_are_pinned(name: str) -> None:
    loose = [
        f"{name}:{n}: {text}"
        for n, text, comment in _requirement_lines(name)
        if not _is_exact_pin(Requirement(text)) and not comment.startswith(UNPINNED_MARK)
    ]
    assert not loose, (
        "requirements without an exact `==` pin (pin them, or say why on the line with"
        f" `{UNPINNED_MARK} <reason>`):\n" + "\n".join(loose)
    )


@pytest.mark.parametrize(
    "name", ["requirements.txt", "requirements-nodeps.txt", "requirements-test.txt"]
)
def test_installed_versions_match_the_pins(name: str) -> None:
    wrong = []
    for n, text, _ in _requirement_lines(name):
        req = Requirement(text)
        if not _is_exact_pin(req):
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}:{n}: {req.name} is not installed")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            wrong.append(f"{name}:{n}: {req} but {installed} is installed")
    assert not wrong, "run ./install.sh (and scripts/test.sh for test tools):\n" + "\n".join(wrong)


def test_keras_hub_is_only_installed_without_deps() -> None:
    # keras-hub must come from requirements-nodeps.txt (installed with --no-deps); listed in
    # requirements.txt as well, pip would resolve its tensorflow-text dependency.
    nodeps = {
        canonicalize_name(Requirement(t).name)
        for _, t, _ in _requirement_lines("requirements-nodeps.txt")
    }
    regular = {
        canonicalize_name(Requirement(t).name) for _, t, _ in _requirement_lines("requirements.txt")
    }
    assert "keras-hub" in nodeps
    assert not nodeps & regular, f"also in requirements.txt: {sorted(nodeps & regular)}"


def test_gpu_requirements_use_the_same_jax_version() -> None:
    pins = {
        canonicalize_name(Requirement(t).name): Requirement(t)
        for _, t, _ in _requirement_lines("requirements.txt")
    }
    (gpu,) = [Requirement(t) for _, t, _ in _requirement_lines("requirements-gpu.txt")]
    assert gpu.name == "jax" and "cuda12" in gpu.extras
    assert gpu.specifier == pins["jax"].specifier


def test_install_script_is_strict_and_rejects_unknown_options() -> None:
    for script in ("install.sh", "scripts/test.sh", ".ci/run"):
        text = (REPO / script).read_text()
        assert "set -euo pipefail" in text, script
        assert os.access(REPO / script, os.X_OK), f"{script} is not executable"
        check = subprocess.run(["bash", "-n", script], cwd=REPO, capture_output=True, text=True)
        assert check.returncode == 0, f"{script}: {check.stderr}"
    result = subprocess.run(
        ["./install.sh", "--no-such-option"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown option" in result.stderr


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^exec scripts/test\.sh$", ci, re.M), ci
    readme = (REPO / "README.md").read_text()
    assert "scripts/test.sh" in readme
    assert "./install.sh && .venv/bin/streamlit run app.py" in readme


def _is_exact_pin(req: Requirement) -> bool:
    specs = list(req.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version
