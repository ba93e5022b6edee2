"""Entity documents read back in few steps where json has no C accelerator (Kybra's RustPython).

`db_entity.doc_text` writes `{"v":V,"f":{fields},"o":O,"c":C,"u":U,"tc":T,"tu":T}` (optional entries
after "tu"). `read_doc` takes the metadata of that layout by position, in a handful of steps, and the
fields entry by entry; any other text (escapes, nested values, optional entries, null owners) goes to
json_text's record decoder, so the result is always `json.loads(text)`.
"""

from . import json_text

_META_NAMES = ["o", "c", "u", "tc"]   # pieces -16, -12, -8, -4 of the text split at its quotes
_COLONS = [":", ":", ":"]             # pieces -15, -11, -7
_COMMAS = [",", ",", ","]             # pieces -13, -9, -5


def read_doc(text: str) -> dict:
    """`json.loads(text)` of a stored document (see the module docstring)."""
    if "\\" in text:
        return json_text.decode_record(text)
    p = text.split('"')
    n = len(p)
    if (n < 22 or p[0] != "{" or p[1] != "v" or p[3] != "f" or p[4] != ":{" or p[-2] != "tu"
            or p[-16::4] != _META_NAMES or p[-15:-4:4] != _COLONS or p[-13:-4:4] != _COMMAS):
        return json_text.decode_record(text)
    fields = {}
    index = 5
    end = n - 16   # p[end - 1] closes the fields: "}," or ":N},"
    while True:   # p[index] is a field name, p[index + 1] what follows it
        key = p[index]
        after = p[index + 1]
        if after == ":":
            fields[key] = p[index + 2]
            after = p[index + 3]
            index += 4
        else:
            if after[:1] != ":":
                return json_text.decode_record(text)
            if after[-2:] == "},":
                token = after[1:-2]
                after = "},"
            elif after[-1:] == ",":
                token = after[1:-1]
                after = ","
            else:
                return json_text.decode_record(text)
            if token.isdigit() and (token[0] != "0" or len(token) == 1):
                fields[key] = int(token)
            else:
                try:
                    fields[key] = json_text.record_scalar(token)
                except (ValueError, IndexError):
                    return json_text.decode_record(text)
            index += 2
        if after == "," and index < end:
            continue
        if after == "}," and index == end:
            break
        return json_text.decode_record(text)
    first, before, last = p[2], p[-3], p[-1]   # ":V,", ":T,", ":T}"
    version, created, updated = first[1:-1], before[1:-1], last[1:-1]
    if (first[:1] != ":" or before[:1] != ":" or last[:1] != ":" or first[-1:] != "," or before[-1:] != ","
            or last[-1:] != "}" or not version.isdigit() or not created.isdigit() or not updated.isdigit()
            or version[0] == "0" or created[0] == "0" or updated[0] == "0"):
        return json_text.decode_record(text)   # (zero and leading zeros too: never written by the engine)
    return {"v": int(version), "f": fields, "o": p[-14], "c": p[-10], "u": p[-6], "tc": int(created),
            "tu": int(updated)}
