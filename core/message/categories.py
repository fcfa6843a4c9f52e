"""Categories: Acumbamail's way to classify transactional mail, one per message.

A category travels as the header ``ACUMBAMAIL-SMTPAPI: <category>`` (no ``X-`` prefix). Acumbamail
accepts "any text"; we enforce what keeps the header safe and readable: non-empty after trimming,
at most :data:`MAX_CATEGORY_LENGTH` characters, and no control characters (which also rules out
CR/LF header injection). Spaces, hyphens and non-ASCII letters are allowed.
"""

from __future__ import annotations

import unicodedata

CATEGORY_HEADER = "ACUMBAMAIL-SMTPAPI"
MAX_CATEGORY_LENGTH = 100


def validate_category(category: str) -> str:
    """Return ``category`` trimmed, or raise ``ValueError`` saying what is wrong with it."""
    if not isinstance(category, str):
        raise ValueError(f"category must be a string, got {type(category).__name__}")
    value = category.strip()
    if not value:
        raise ValueError("category must not be empty")
    if len(value) > MAX_CATEGORY_LENGTH:
        raise ValueError(f"category must be at most {MAX_CATEGORY_LENGTH} characters, got {len(value)}")
    if value.isascii() and value.isprintable():
        return value  # printable ASCII has none of the characters refused below
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"category must not contain control characters (found {char!r})")
    return value
