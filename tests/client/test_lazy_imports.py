"""What `simpledb --help` imports (deterministic, not timed): no httpx, ic-py, cryptography or pyblst;
and ic-py loaded for its Candid codec alone still works whole afterwards."""

import subprocess
import sys

HEAVY = ("httpx", "ic", "cryptography", "pyblst", "yaml", "tqdm", "asyncio")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_cli_help_loads_no_heavy_library():
    loaded = _modules_after(
        "import sys\nsys.argv = ['simpledb', '--help']\nfrom simple_db_client.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "simple_db_client.cli" in loaded
    assert not {name for name in loaded if name.split(".")[0] in HEAVY}


def test_importing_the_package_loads_nothing_until_a_name_is_used():
    loaded = _modules_after("import simple_db_client")
    assert not {name for name in loaded if name.startswith("simple_db_client.")}
    loaded = _modules_after("from simple_db_client import Principal\nPrincipal.from_text('aaaaa-aa')")
    assert "simple_db_client.principal" in loaded and "ic" not in loaded


def test_ic_py_stays_whole_after_the_candid_codec_loads_alone():
    code = (
        "from simple_db_client.ic_candid import candid\n"
        "import sys\nassert 'ic.agent' not in sys.modules\n"
        "assert candid.encode([]) == b'DIDL\\x00\\x00'\n"
        "from ic import Agent, Principal\n"
        "import ic.agent\nassert Agent is ic.agent.Agent\n"
        "print(Principal.from_str('aaaaa-aa').to_str())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "aaaaa-aa"
