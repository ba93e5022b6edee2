"""Virtual environments for the upstream packages, created under `.bench/` on first use.

Each upstream package gets its own environment because `kybra-simple-db` imports under the same
name as this project's engine. The packages import logging helpers they do not declare as
dependencies, so those are pinned here too.
"""

import subprocess
import sys
import venv
from pathlib import Path

REQUIREMENTS: dict[str, list[str]] = {
    "kybra-simple-db": ["kybra-simple-db==0.5.0", "kybra-simple-logging==0.2.0"],
    "ic-python-db": ["ic-python-db==0.12.0", "ic-python-logging==0.3.4"],
    # the upstream test suites run on this project's engine: only what the test files import besides it
    "suites": ["kybra-simple-logging==0.2.0", "ic-python-logging==0.3.4", "pytest==9.2.0"],
}

MARKER = ".installed"


class EnvError(RuntimeError):
    """An upstream environment could not be created or installed."""


def env_python(env_dir: Path) -> Path:
    """The interpreter of a virtual environment (POSIX or Windows layout)."""
    posix = env_dir / "bin" / "python"
    return posix if posix.exists() or sys.platform != "win32" else env_dir / "Scripts" / "python.exe"


def ensure_env(package: str, bench_dir: Path) -> Path:
    """Create (once) the environment of an upstream package and return its interpreter.

    The marker file holds the requirement list, so changing a pin rebuilds the environment.
    """
    if package not in REQUIREMENTS:
        raise EnvError(f"unknown upstream package {package!r}; known: {', '.join(REQUIREMENTS)}")
    requirements = REQUIREMENTS[package]
    env_dir = bench_dir / package
    marker = env_dir / MARKER
    wanted = "\n".join(requirements) + "\n"
    if marker.exists() and marker.read_text() == wanted and env_python(env_dir).exists():
        return env_python(env_dir)
    venv.EnvBuilder(clear=True, with_pip=True).create(env_dir)
    python = env_python(env_dir)
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvError(f"installing {' '.join(requirements)} failed:\n{done.stderr.strip()}")
    marker.write_text(wanted)
    return python
