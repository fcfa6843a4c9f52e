"""E-mail address parsing and encoding for headers and for the SMTP envelope."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr

_FORBIDDEN = frozenset("\r\n\x00")
#: Control characters (C0 and DEL) never belong in an address: they would reach SMTP commands.
_CONTROL = frozenset(chr(c) for c in (*range(32), 127))


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
    """``domain`` in its ASCII (IDNA) form; ASCII domains are returned unchanged."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"domain {domain!r} cannot be encoded with IDNA: {exc}") from None


def parse_address(value: str, field: str = "address") -> ParsedAddress:
    """Parse one address such as ``"Ana <ana@example.com>"``; ``ValueError`` names ``field``."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a string address, got {type(value).__name__}")
    if _FORBIDDEN.intersection(value):
        raise ValueError(f"{field}: address contains a line break or NUL (header injection?)")
    if _CONTROL.intersection(value):
        raise ValueError(f"{field}: address {value!r} contains a control character")
    if value.count("@") == 0:
        raise ValueError(f"{field}: {value!r} is not an e-mail address")
    if len(getaddresses([value])) > 1:
        raise ValueError(f"{field}: {value!r} holds several addresses; give them as a list")
    name, addr = parseaddr(value)
    if not addr:
        raise ValueError(f"{field}: cannot parse {value!r} as an e-mail address")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or "@" in domain or " " in addr:
        raise ValueError(f"{field}: {value!r} is not a valid e-mail address")
    labels = domain.split(".")
    if any(not label for label in labels):
        raise ValueError(f"{field}: {value!r} has an empty label in its domain")
    idna_domain(domain)
    if len(addr) > 254:
        raise ValueError(f"{field}: {value!r} is longer than 254 characters")
    return ParsedAddress(name, addr)


def parse_address_list(values: str | list[str] | tuple[str, ...] | None, field: str) -> list[ParsedAddress]:
    """Parse a string (possibly comma-separated) or a sequence of addresses."""
    if values is None:
        return []
    if isinstance(values, str):
        if _FORBIDDEN.intersection(values):
            raise ValueError(f"{field}: address contains a line break or NUL (header injection?)")
        pairs = getaddresses([values])
        if any(not addr for _, addr in pairs):
            raise ValueError(f"{field}: cannot parse {values!r} as e-mail addresses")
        return [parse_address(str(Address(n, addr_spec=a)) if n else a, field) for n, a in pairs]
    return [parse_address(str(v), field) for v in values]
