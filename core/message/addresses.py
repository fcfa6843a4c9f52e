"""E-mail address parsing and encoding for headers and for the SMTP envelope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import errors
from email.headerregistry import Address, HeaderRegistry
from email.utils import getaddresses, parseaddr
from typing import Any

import idna

_FORBIDDEN = frozenset("\r\n\x00")
#: Control characters (C0 and DEL) never belong in an address: they would reach SMTP commands.
_CONTROL = frozenset(chr(c) for c in (*range(32), 127))
#: A bare address with nothing that could start a second one (no space, brackets, comma...).
_PLAIN = re.compile(r"[^\s<>()\[\]\",;:\\@]+@[^\s<>()\[\]\",;:\\@]+")
#: ``Display Name <bare address>`` with a name of plain words (letters, digits, ``_``, ``'``, ``-``):
#: one mailbox for certain, so the slow double parse below is skipped for the common case.
_ATOM = r"[^\s<>()\[\]\",;:\\@.]+"
_NAMED = re.compile(rf"[\w'-]+(?: [\w'-]+)* <{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*>")
_HEADERS = HeaderRegistry()


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """One mailbox: an optional display name and the address itself."""

    name: str
    addr_spec: str

    @property
    def local_part(self) -> str:
        return self.addr_spec.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.addr_spec.rpartition("@")[2]

    @property
    def needs_smtputf8(self) -> bool:
        """True when the local part is not ASCII (the domain can always go as IDNA)."""
        return not self.local_part.isascii()

    def envelope(self) -> str:
        """The address for MAIL FROM / RCPT TO: domain in IDNA, local part as is."""
        return f"{self.local_part}@{idna_domain(self.domain)}"

    def __str__(self) -> str:
        return str(Address(self.name, addr_spec=self.addr_spec)) if self.name else self.addr_spec


def idna_domain(domain: str) -> str:
    """``domain`` in its ASCII form by IDNA 2008 with the UTS #46 mapping (case and width folded,
    ``ß`` and the final sigma kept, not rewritten to another domain as IDNA 2003 did); ASCII
    domains are returned unchanged. ``ValueError`` when the domain cannot be encoded."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"domain {domain!r} cannot be encoded with IDNA 2008: {exc}") from None


def parse_address(value: str, field: str = "address") -> ParsedAddress:
    """Parse one address such as ``"Ana <ana@example.com>"``; ``ValueError`` names ``field``."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a string address, got {type(value).__name__}")
    if not value.isprintable():  # printable text holds no line break, NUL or other control character
        if _FORBIDDEN.intersection(value):
            raise ValueError(f"{field}: address contains a line break or NUL (header injection?)")
        if _CONTROL.intersection(value):
            raise ValueError(f"{field}: address {value!r} contains a control character")
    if "@" not in value:
        raise ValueError(f"{field}: {value!r} is not an e-mail address")
    name, addr = _split(value, field)
    if not addr:
        raise ValueError(f"{field}: cannot parse {value!r} as an e-mail address")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or "@" in domain or " " in addr:
        raise ValueError(f"{field}: {value!r} is not a valid e-mail address")
    if "" in domain.split("."):
        raise ValueError(f"{field}: {value!r} has an empty label in its domain")
    try:
        ascii_domain = idna_domain(domain)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None
    if max(map(len, ascii_domain.split("."))) > 63 or len(ascii_domain) > 253:
        raise ValueError(f"{field}: {value!r} has a domain label over 63 or a domain over 253 characters")
    if len(addr) > 254:
        raise ValueError(f"{field}: {value!r} is longer than 254 characters")
    return ParsedAddress(name, addr)


def _split(value: str, field: str) -> tuple[str, str]:
    """``(display name, address)`` of ``value``, refused unless it is exactly one mailbox.

    A bare address or ``Plain Name <address>`` is one mailbox for certain and is split directly:
    ``parseaddr`` reads those the same (it skips only spaces and tabs around them, hence ``direct``)."""
    plain = value.strip()
    direct = plain == value.strip(" \t")
    if _PLAIN.fullmatch(plain):
        if direct:
            return "", plain
    elif _NAMED.fullmatch(plain):
        if direct:
            name, _, bracketed = plain.partition(" <")
            return name, bracketed[:-1]
    elif not _is_one_address(value):
        raise ValueError(f"{field}: {value!r} is not exactly one address (several addresses "
                         "go in a list, one per item)")
    return parseaddr(value)


def _is_one_address(value: str) -> bool:
    """True when both of Python's address parsers read exactly one mailbox, and the strict one
    without a defect: the lenient one alone reads ``a@x <b@y>`` as one address but sends to two."""
    if len(getaddresses([value])) != 1:
        return False
    try:
        header: Any = _HEADERS("To", value)  # an AddressHeader; typeshed says BaseHeader
    except Exception:  # the header parser raises several unrelated types on garbage
        return False
    if len(header.groups) != 1 or header.groups[0].display_name is not None or len(header.addresses) != 1:
        return False
    return all(isinstance(d, errors.NonASCIILocalPartDefect) for d in header.defects)


def parse_address_list(values: str | list[str] | tuple[str, ...] | None, field: str) -> list[ParsedAddress]:
    """The addresses of one field: a string is exactly one address, a sequence one per item."""
    if values is None:
        return []
    if isinstance(values, str):
        return [parse_address(values, field)]
    return [parse_address(str(v), field) for v in values]
