"""Values shared by the runtime tests."""

from kybra import Principal


def everything(**changes):
    value = {
        "t": "héllo",
        "b": True,
        "n": 2**70,
        "i": -(2**65),
        "n8": 255,
        "n16": 65535,
        "n32": 2**32 - 1,
        "n64": 2**64 - 1,
        "i8": -128,
        "i16": -32768,
        "i32": -(2**31),
        "i64": -(2**63),
        "f32": 1.5,
        "f64": -2.25,
        "p": Principal.from_str("aaaaa-aa"),
        "bl": b"\x00\xff",
        "o": None,
        "v": [1, -2],
        "tup": ("x", 7),
        "nul": None,
        "r": None,
        "ids": [1, 2],
        "shape": {"Circle": 2.0},
    }
    value.update(changes)
    return value
