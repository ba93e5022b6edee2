"""The canister's engine writes its stable maps through Kybra's host functions (`_kybra_ic`, storage
contract `host_functions`), not through the maps' Python methods, on both localnet runtimes: a write the
stable map refuses traps exactly as through the method, and the message changes nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from canister_fixtures import callers, deploy, fingerprint, with_types
from canister_harness import ENTRY, Rejected, field, field_def, text, type_def

from localnet import rustpython_runtime
from localnet.replica import Replica

NOTE = type_def("hf::Note", [field_def("body", "Text", high=600)])
RUNTIMES = [
    "cpython",
    pytest.param(
        "rustpython",
        marks=pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.SKIP_REASON),
    ),
]


def _narrow_copy(tmp: Path) -> Path:
    """canister/src copied to `tmp`, its data map declared with 300-byte values while the engine is told
    1,024 (so a 500-byte document passes the engine's checks and the stable map refuses it), and the data
    and audit maps' own insert/remove raising: every write the engine makes must use the host functions."""
    source = tmp / "src"
    shutil.copytree(ENTRY.parent, source, ignore=shutil.ignore_patterns("__pycache__"))
    main = source / ENTRY.name
    declaration = "db_storage = StableBTreeMap[str, str](memory_id=0, max_key_size=128, max_value_size="
    text_, replaced = re.subn(re.escape(declaration) + r"1024\)", declaration + "300)", main.read_text())
    assert replaced == 1, "main.py no longer declares db_storage as this test expects"
    text_ += (
        "\n\ndef _method_path(*args):\n"
        "    raise RuntimeError('the engine wrote through a stable map method')\n\n\n"
        "for _map in (db_storage, audit_storage):\n"
        "    _map.insert = _map.remove = _method_path\n"
    )
    main.write_text(text_)
    return main


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_write_the_stable_map_refuses_traps_through_the_host_functions_and_changes_nothing(
        tmp_path, runtime):
    kwargs = {} if runtime == "cpython" else {"runtime": runtime}
    with Replica(**kwargs) as replica:
        net = with_types(callers(replica, deploy(replica, entry=_narrow_copy(tmp_path))), [NOTE])
        first = net.alice.ok("create", "hf::Note", [field("body", text("short"))])["id"]
        assert net.alice.ok("get", "hf::Note", first)["fields"]
        before = fingerprint(net.admin)
        with pytest.raises(Rejected) as refused:
            net.alice.call("create", "hf::Note", [field("body", text("x" * 500))])
        assert "too large" in refused.value.message and "method" not in refused.value.message
        assert fingerprint(net.admin) == before
        second = net.alice.ok("create", "hf::Note", [field("body", text("after"))])["id"]
        assert second == first + 1
