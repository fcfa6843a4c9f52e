"""The fast path of ``parse_address`` (plain ``Name <addr>`` strings) never accepts what the strict
double parse would refuse, and reads the same mailbox."""

from __future__ import annotations

from email.utils import parseaddr

from acumbamail_smtp.message.addresses import _NAMED, _is_one_address, parse_address
from hypothesis import given, settings
from hypothesis import strategies as st

#: Characters that may appear in either part, specials included, so that the regex is tested at
#: its edges (quotes, brackets, commas, @ inside the name...).
TEXT = st.text(alphabet=st.sampled_from(list("abcAB1 .-_'\"<>(),;:@\\[]éñ")), min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(TEXT, st.from_regex(r"[a-z0-9.'\"()<>,é]{1,8}@[a-z0-9.é\"-]{1,8}", fullmatch=True))
def test_what_the_fast_path_takes_is_exactly_one_mailbox(name: str, addr: str) -> None:
    value = f"{name} <{addr}>"
    if _NAMED.fullmatch(value):
        assert _is_one_address(value)
        assert parse_address(value).addr_spec == parseaddr(value)[1] == addr.strip()


def test_an_address_in_the_name_is_not_taken_by_the_fast_path() -> None:
    assert not _NAMED.fullmatch("ana@example.org <evil@example.org>")
    assert _NAMED.fullmatch("Ana Gómez <ana@example.org>")
