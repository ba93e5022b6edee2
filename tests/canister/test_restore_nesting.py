"""restore_rules.check_nesting refuses exactly the texts the character-by-character walk it replaced
refused (brackets outside strings nesting past MAX_DEPTH), whatever the text holds: escapes, quotes,
non-ASCII characters, unbalanced brackets."""

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

SOURCE = str(Path(__file__).resolve().parents[2] / "canister" / "src")
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)

from error_map import ApiError  # noqa: E402
from restore_rules import MAX_DEPTH, check_nesting  # noqa: E402

_NOT_BRACKETS = str.maketrans("", "", "0123456789,:.-+eEtrufalsnNIiy \t\n\r")


def _reference(data: str) -> bool:
    """Whether the walk check_nesting first did (a translate, then every character left) refused it."""
    unquoted = data.replace("\\\\", "").replace('\\"', "").split('"')[::2]
    depth = 0
    for piece in unquoted:
        for char in piece.translate(_NOT_BRACKETS):
            if char == "[" or char == "{":
                depth += 1
                if depth > MAX_DEPTH:
                    return True
            elif char == "]" or char == "}":
                depth -= 1
    return False


def _refused(data: str) -> bool:
    try:
        check_nesting(data)
    except ApiError as error:
        assert "nests deeper" in error.message
        return True
    return False


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet='[]{}"\\:,1aé€[[[[{{{{', max_size=60))
def test_check_nesting_refuses_what_the_walk_refused(data):
    assert _refused(data) == _reference(data)


def test_check_nesting_at_the_edges():
    for data in ("[" * MAX_DEPTH, "[" * (MAX_DEPTH + 1), "]]" + "[" * (MAX_DEPTH + 1), "[]" * 50,
                 '["' + "[" * 20 + '"]', '["\\"' + "[" * 20 + '"]', "{" * 4 + '"é\\\\"' + "[" * 5,
                 "[" * 4 + "]" + "[" * 5, '{"a":[{"b":[[[[[[1]]]]]]}]}', "\ud800" + "[" * 9):
        assert _refused(data) == _reference(data), data
