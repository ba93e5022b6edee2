"""scripts/run_local.py (`make run`): starts localnet with simple_db, prints URL, canister id and examples
that work as printed, stops cleanly on Ctrl-C and keeps data across restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ICP_BIN = Path(os.environ.get("ICP_BIN") or REPO / ".tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp")


def start(state: Path, home: Path, background: bool = False) -> tuple[subprocess.Popen, str]:
    """run_local.py with its own HOME (the icp identity it imports and the icp settings land there);
    `background`: with SIGINT ignored, as `make run &` in a script starts it."""
    home.mkdir(exist_ok=True)
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "run_local.py"), "--port", "0", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=new_shell_env(home),
        preexec_fn=ignore,
    )
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("run_local.py did not come up:\n" + "".join(lines) + proc.stderr.read())


def new_shell_env(home: Path) -> dict[str, str]:
    """A new shell's environment: no virtualenv on PATH, no SIMPLEDB_ or ICP_ variables."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SIMPLEDB_", "ICP_", "VIRTUAL_ENV"))}
    venv_bin = str(Path(sys.executable).parent)
    keep["PATH"] = os.pathsep.join(p for p in keep.get("PATH", "").split(os.pathsep) if p != venv_bin)
    keep.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share")
    )
    keep["XDG_CACHE_HOME"] = str(home / ".cache")
    return keep


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def section(output: str, title: str) -> str:
    """The indented lines under a `title:` heading, dedented."""
    match = re.search(rf"^{re.escape(title)}[^\n]*:\n((?:  .*\n)+)", output, re.M)
    assert match, f"no {title!r} section in:\n{output}"
    return textwrap.dedent(match.group(1))


def paste(output: str, title: str, home: Path, cwd: Path, then: str = "") -> subprocess.CompletedProcess:
    """Paste the "New shell" line, then section `title` (and `then`) into a new bash."""
    script = "set -e\n" + section(output, "New shell (paste first") + section(output, title) + then
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=new_shell_env(home), capture_output=True, text=True, timeout=300
    )


def paste_python(output: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Paste the "Python client" section into the interpreter its heading names, in a new shell."""
    python = re.search(r"^Python client \(paste into (\S+),", output, re.M)
    assert python, f"the Python client section does not say which Python to paste into:\n{output}"
    return subprocess.run(
        [python.group(1), "-"],
        input=section(output, "Python client"),
        cwd=cwd,
        env=new_shell_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not ICP_BIN.is_file(), reason="the icp CLI is installed by make setup")
def test_run_local_deploys_with_icp_and_prints_working_examples_and_keeps_data(tmp_path):
    state, home = tmp_path / "state", tmp_path / "home"
    home.mkdir()
    # a `simpledb-admin` left by an earlier state directory (after `make clean`) holds another key
    taken = subprocess.run(
        [str(ICP_BIN), "identity", "new", "simpledb-admin", "--storage", "plaintext"],
        env=new_shell_env(home),
        capture_output=True,
    )
    assert taken.returncode == 0, taken.stderr
    proc, output = start(state, home)
    try:
        url = re.search(r"URL:\s+(\S+)", output).group(1)
        canister_id = re.search(r"canister id:\s+(\S+)", output).group(1)
        consumer_id = re.search(r"consumer id:\s+(\S+)", output).group(1)
        admin = re.search(r"admin:\s+(\S+)", output).group(1)
        assert url.startswith("http://127.0.0.1:") and (state / "admin.pem").exists()

        pasted = paste_python(output, home, tmp_path)
        assert pasted.returncode == 0 and pasted.stdout.startswith(admin), pasted.stderr

        namespace: dict = {}
        exec(section(output, "Python client"), namespace)
        db = namespace["db"]
        assert db.canister_id.to_str() == canister_id and not db.identity.is_anonymous

        result = paste(output, "simpledb CLI", home, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "hello" in result.stdout and (tmp_path / "tasks.jsonl").exists()

        readme_call = 'icp canister call -n $URL -k fetch --identity $ADMIN_IDENTITY $DB whoami "()" --query'
        result = paste(output, "icp CLI (canisters by name)", home, tmp_path, then=readme_call)
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip().endswith(f'(principal "{admin}")')  # the README's calls are the admin's
        assert "demo::Note" in result.stdout and f'principal "{canister_id}"' in result.stdout
        assert "Status: Running" in result.stdout
        count = db.count("demo::Task")
        db.close()
    finally:
        assert stop(proc, signal.SIGTERM) == 0

    proc, output = start(state, home, background=True)
    try:
        assert re.search(r"canister id:\s+(\S+)", output).group(1) == canister_id
        assert re.search(r"consumer id:\s+(\S+)", output).group(1) == consumer_id
        from simple_db_client import SimpleDB

        url = re.search(r"URL:\s+(\S+)", output).group(1)
        with SimpleDB(url, canister_id, state / "admin.pem", fetch_root_key=True) as again:
            assert again.count("demo::Task") == count == 1
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("args", [["--port", "not-a-port"]])
def test_run_local_rejects_bad_arguments(args):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_local.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "invalid int" in result.stderr


def test_run_local_busy_port_or_state_is_one_line_naming_make_variables(tmp_path):
    import fcntl
    import socket

    def run(port: int, state: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, str(REPO / "scripts" / "run_local.py"), "--port", str(port)]
        command += ["--state", str(state), "--runtime", "cpython"]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(port, tmp_path / "a")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"make run: port {port} on 127.0.0.1 is already in use (another localnet? choose another with PORT=N)"
    ]
    state = tmp_path / "b"
    state.mkdir()
    with open(state / "replica.lock", "w") as held:  # as a running `make run` on this state holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run(0, state)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"make run: state directory {state} is in use by another localnet replica (stop it, or use STATE=DIR)"
    ]


@pytest.mark.skipif(not ICP_BIN.is_file(), reason="the icp CLI is installed by make setup")
def test_ctrl_c_while_icp_deploys_stops_cleanly_not_as_a_failed_deploy(tmp_path):
    """Ctrl-C in a terminal signals the whole process group, icp included."""
    command = [sys.executable, str(REPO / "scripts" / "run_local.py"), "--port", "0"]
    command += ["--state", str(tmp_path / "state"), "--runtime", "cpython"]
    (tmp_path / "home").mkdir()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=new_shell_env(tmp_path / "home"),
        start_new_session=True,
    )
    try:
        first = proc.stdout.readline()
        assert "deploying simple_db and consumer with icp deploy" in first, first + proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "failed" not in err and out.rstrip().splitlines()[-1].startswith("stopping localnet")
