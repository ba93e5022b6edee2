"""Types declared in Python, with their hooks: present from install on and re-declared on every upgrade.

Each entry of PYTHON_TYPES is a type definition in the plain form of typedef_rules (the same shape
`define_type` takes, variant cases as strings) and an `on_event` hook with the engine's signature
(entity, field_name, old_value, new_value, action) -> (allowed, value). `define_type` cannot change
these types: edit this file and upgrade the canister instead.
"""

import typedef_rules

NOTE = {
    "name": "demo::Note",
    "fields": [
        {
            "name": "title",
            "kind": "Text",
            "required": True,
            "default": None,
            "min": 1.0,
            "max": 64.0,
            "indexed": True,
        },
        {
            "name": "body",
            "kind": "Text",
            "required": False,
            "default": "",
            "min": None,
            "max": 2000.0,
            "indexed": False,
        },
        {
            "name": "pinned",
            "kind": "Bool",
            "required": False,
            "default": False,
            "min": None,
            "max": None,
            "indexed": False,
        },
    ],
    "alias": None,
    "relations": [],
    "policy": {"read": "Public", "create": "Anyone", "modify": "Owner", "delete": "Owner"},
}


def note_hook(entity, field_name, old_value, new_value, action):
    """Titles are stored without surrounding spaces; a title that is only spaces is refused."""
    if field_name == "title" and isinstance(new_value, str):
        trimmed = new_value.strip()
        if not trimmed:
            return False, None
        return True, trimmed
    return True, new_value


PYTHON_TYPES = [(NOTE, note_hook)]


def python_types(codec) -> list:
    """[(validated plain type definition, hook)], checked by the same rules as `define_type`."""
    return [
        (typedef_rules.normalize(typedef_rules.to_candid(plain, codec)), hook) for plain, hook in PYTHON_TYPES
    ]
