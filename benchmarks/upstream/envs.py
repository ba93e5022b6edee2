"""Virtual environments for the upstream packages, built once per machine and reused.

Each upstream package gets its own environment because `kybra-simple-db` imports under the same
name as this project's engine. The packages import logging helpers they do not declare as
dependencies, so those are pinned here too. Environments live in a cache shared by every checkout
and run (`$KSDB_BENCH_ENVS`, else `~/.cache/kybra-simple-db/bench-envs`), one per package and
Python version, rebuilt only when its pinned requirements change; a lock keeps concurrent runs
from building the same one twice.
"""

import fcntl
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Optional

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


def cache_dir() -> Path:
    """Where the environments are kept (shared by checkouts and runs)."""
    configured = os.environ.get("KSDB_BENCH_ENVS")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "kybra-simple-db" / "bench-envs"


def ensure_env(package: str, bench_dir: Optional[Path] = None) -> Path:
    """Create (once) the environment of an upstream package and return its interpreter.

    The marker file holds the requirement list, so changing a pin rebuilds the environment.
    """
    if package not in REQUIREMENTS:
        raise EnvError(f"unknown upstream package {package!r}; known: {', '.join(REQUIREMENTS)}")
    requirements = REQUIREMENTS[package]
    root = bench_dir if bench_dir is not None else cache_dir()
    env_dir = root / f"{package}-py{sys.version_info[0]}{sys.version_info[1]}"
    marker = env_dir / MARKER
    wanted = "\n".join(requirements) + "\n"
    if marker.exists() and marker.read_text() == wanted and env_python(env_dir).exists():
        return env_python(env_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == wanted and env_python(env_dir).exists():
            return env_python(env_dir)      # built by a concurrent run while this one waited
        return _build(env_dir, requirements, marker, wanted)


def _build(env_dir: Path, requirements: list, marker: Path, wanted: str) -> Path:
    venv.EnvBuilder(clear=True, with_pip=True).create(env_dir)
    python = env_python(env_dir)
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvError(f"installing {' '.join(requirements)} failed:\n{done.stderr.strip()}")
    marker.write_text(wanted)
    return python
