"""What text the sender's API accepts in any string of a request body, path or query.

One rule for every string, checked once at the API boundary (:func:`unsafe_character`) and
stated in the OpenAPI document (:data:`SAFE_TEXT_PATTERN`): no control characters (C0, DEL,
C1: NUL, ESC, newlines, tabs), no bidirectional overrides or isolates (U+202A-U+202E,
U+2066-U+2069, which make a title display as something else) and no lone surrogates
(``"\\ud800"`` decodes from JSON but is not Unicode text and cannot be stored).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["SAFE_TEXT_PATTERN", "unsafe_character"]

_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

SAFE_TEXT_PATTERN: Final = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$"
"""The same rule as an ECMA-262 pattern for JSON Schema (surrogates are not JSON text at all)."""


def unsafe_character(text: str) -> str | None:
    """A description of the first character the rule refuses in ``text``, or None."""
    found = _UNSAFE.search(text)
    if found is None:
        return None
    char = found.group()
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate, not Unicode text"
    elif code < 0x20 or 0x7F <= code <= 0x9F:
        kind = "a control character"
    else:
        kind = "a bidirectional control character"
    name = unicodedata.name(char, "")
    label = f"U+{code:04X}" + (f" {name}" if name else "")
    return f"{label} at position {found.start()} is {kind}"
