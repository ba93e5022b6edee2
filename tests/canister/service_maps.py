"""The canister's service layer (db_api.DbApi) on in-memory maps of the canister's sizes, installed by
ADMIN: what the service-level tests call without a replica."""

import sys
import time
from pathlib import Path

from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import MemoryMap, ordered_index

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import audit_chain  # noqa: E402
import db_api  # noqa: E402 - the canister's own modules, found on their source path
import entity_merkle  # noqa: E402

ADMIN = "evvln-dkyvs-32ztg-old72-roktw-evvu5-ycxvb-nvzcb-ygwyk-bl7u4-fqe"


def canister_maps() -> dict:
    """Fresh maps named and sized as main.py's stable maps: name -> (map, max key size, max value size)."""
    return {"db": (MemoryMap(0, 128, 1024), 128, 1024), "audit": (MemoryMap(1, 80, 1024), 80, 1024),
            "meta": (MemoryMap(2, 128, 16384), 128, 16384), "cert": (MemoryMap(3, 128, 1100), 128, 1100)}


def installed_api(**options) -> tuple:
    """(DbApi installed by ADMIN on fresh canister_maps(), those maps); `options` go to DbApi (meter,
    set_timer, set_certified_data, ...)."""
    maps = canister_maps()
    api = db_api.DbApi(maps, clock=time.time_ns, principal=Principal.from_str, **options)
    api.install(ADMIN)
    return api, maps


def stored(maps: dict) -> dict:
    """Every map's contents, to compare before and after a refused call."""
    return {name: dict(m._data) for name, (m, _, _) in maps.items()}


def field(name: str, kind: str, low=None, high=None, required=False, default=None, indexed=False) -> dict:
    """A field definition as the service takes it (decoded Candid: no opt wrappers)."""
    return {"name": name, "kind": {kind: None}, "required": required, "default": default, "min": low,
            "max": high, "indexed": indexed}


def forget_module_caches() -> None:
    """What a real upgrade also drops: the module-level caches keyed by content."""
    entity_merkle._DIGESTS.clear()
    entity_merkle._PARSED.clear()
    entity_merkle._TREES.clear()
    audit_chain._NAMES.clear()
    ordered_index.forget_cached()
