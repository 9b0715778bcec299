"""This repository's own commands run as a user runs them: a fresh process from the repository root."""

from __future__ import annotations

import subprocess
import sys

from testkit.paths import REPO


def run_build(*args, check: bool = True, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m build ARGS`` from the repository root; with ``check`` it must exit 0."""
    result = subprocess.run([sys.executable, "-m", "build", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                            timeout=timeout, env=env)
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result
