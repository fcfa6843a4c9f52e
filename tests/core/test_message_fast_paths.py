"""The shortcuts of ``prepare()`` give exactly what the long way gives: the address split, the
category check, one-line header folding and the Date of "now", each against the code it skips, and
whole messages (MIME bytes and envelope) with every shortcut replaced by the long way."""

from __future__ import annotations

import email.generator
import importlib
import itertools
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from email.utils import formatdate, parseaddr

import pytest
from acumbamail_smtp import InvalidMessage, Message, prepare
from acumbamail_smtp.message import addresses, categories, fastmime
from acumbamail_smtp.message.addresses import _NAMED, _PLAIN, _is_one_address, parse_address
from acumbamail_smtp.message.categories import validate_category
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

#: The module (the package's ``prepare`` attribute is the function of that name).
prepare_module = importlib.import_module("acumbamail_smtp.message.prepare")

# -- the long ways, as the code read before the shortcuts -------------------------------------


def split_long_way(value: str, field: str) -> tuple[str, str]:
    """Refuse unless one mailbox, then always ``parseaddr``."""
    plain = value.strip()
    if not (_PLAIN.fullmatch(plain) or _NAMED.fullmatch(plain)) and not _is_one_address(value):
        raise ValueError(f"{field}: {value!r} is not exactly one address (several addresses "
                         "go in a list, one per item)")
    return parseaddr(value)


def category_long_way(category: str) -> str:
    value = category.strip()
    if not value:
        raise ValueError("category must not be empty")
    if len(value) > categories.MAX_CATEGORY_LENGTH:
        raise ValueError(f"category must be at most {categories.MAX_CATEGORY_LENGTH} characters, "
                         f"got {len(value)}")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"category must not contain control characters (found {char!r})")
    return value


def fold_long_way(name: str, pieces: Sequence[str], sep: str) -> bytes:
    """The folding loop alone, for every length."""
    out = [name, ":"]
    length = len(name) + 1
    for i, piece in enumerate(pieces):
        glue = (sep + " ") if i else " "
        if i and length + len(glue) + len(piece) > fastmime.FOLD_AT:
            out.append(sep + "\r\n ")
            length = 1
        else:
            out.append(glue)
            length += len(glue)
        out.append(piece)
        length += len(piece)
        if length > fastmime.MAX_LINE:
            raise fastmime.Unsupported(name)
    out.append("\r\n")
    return "".join(out).encode("ascii")


def outcome(call: Callable[..., object], *args: object) -> tuple[str, object]:
    """What a call returns, or the type and text of what it raises, to compare two ways."""
    try:
        return "ok", call(*args)
    except Exception as exc:
        return type(exc).__name__, str(exc)


# -- strategies -------------------------------------------------------------------------------

#: Characters that steer the parsers: specials, dots, quotes, both kinds of space, non-ASCII.
SPECIAL = list("ab.Z9-_'!%+@<>()[]\",;:\\ \té\u2003\u200b\xa0ñ\u0301")
ATOM = st.text(st.sampled_from(list("abZ9-_'!%+éñ\u0301")), min_size=1, max_size=6) | st.just("a\u200b")
DOMAIN = st.lists(st.text(st.sampled_from(list("abz09-é")), min_size=1, max_size=6), min_size=1,
                  max_size=3).map(".".join)
LOCAL = st.lists(ATOM, min_size=1, max_size=3).map(".".join)
NAME = st.lists(st.text(st.sampled_from(list("AnaGómez'-_9\"(),.")), min_size=1, max_size=8),
                min_size=0, max_size=3).map(" ".join)
SPACE = st.sampled_from(["", " ", "\t", "  ", " \t", "\u2003", "\xa0 "])
#: What a well-formed message holds: domains IDNA takes, no tabs or odd spaces around addresses.
CLEAN_DOMAIN = st.lists(st.text(st.sampled_from(list("abz09é")), min_size=1, max_size=6), min_size=1,
                        max_size=3).map(".".join)
CLEAN_SPACE = st.sampled_from(["", " ", "  "])


@st.composite
def address_text(draw: st.DrawFn, noise: bool = True) -> str:
    """Mostly well-formed addresses in every shape (so the shortcut is taken), some noise."""
    local, domain = draw(LOCAL), draw(DOMAIN if noise else CLEAN_DOMAIN)
    shape = draw(st.sampled_from(["bare", "named", "noise"] if noise else ["bare", "named"]))
    if shape == "bare":
        core = f"{local}@{domain}"
    elif shape == "named":
        core = f"{draw(NAME)} <{local}@{domain}>"
    else:
        core = draw(st.text(st.sampled_from(SPECIAL), min_size=1, max_size=20))
    space = SPACE if noise else CLEAN_SPACE
    return draw(space) + core + draw(space)


# -- each shortcut against its long way -------------------------------------------------------


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(address_text())
@example("shop@example.com")
@example("Shop <shop@example.com>")
@example(" \tAna Gómez <ana@example.org> ")
@example("\u2003ana@example.org")
@example("ana@example.org <evil@example.org>")
def test_the_address_split_matches_parseaddr(value: str) -> None:
    assert outcome(addresses._split, value, "to") == outcome(split_long_way, value, "to")


def test_the_split_shortcut_is_taken_for_the_common_shapes() -> None:
    # Proven by the absence of the strict parser's work: a fast split never calls it.
    calls: list[str] = []
    original = addresses._is_one_address

    def counting(value: str) -> bool:
        calls.append(value)
        return original(value)

    addresses._is_one_address = counting
    try:
        assert parse_address("Shop <shop@example.com>").name == "Shop"
        assert parse_address(" customer@example.org ").addr_spec == "customer@example.org"
        assert calls == []
        assert parse_address('"Shop, Inc." <shop@example.com>').name == "Shop, Inc."
        assert calls == ['"Shop, Inc." <shop@example.com>']
    finally:
        addresses._is_one_address = original


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=120) | st.text(st.characters(max_codepoint=127), max_size=120))
@example("ORDER_SHIPPED")
@example("pedido\u200benviado")
@example("a\x7fb")
def test_the_category_check_matches_the_character_scan(category: str) -> None:
    assert outcome(validate_category, category) == outcome(category_long_way, category)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["From", "To", "Subject", "ACUMBAMAIL-SMTPAPI", "X-A-Rather-Long-Header-Name"]),
       st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
                min_size=1, max_size=8),
       st.sampled_from(["", ","]))
def test_folding_a_short_line_matches_the_folding_loop(name: str, pieces: list[str], sep: str) -> None:
    assert outcome(fastmime._fold, name, pieces, sep) == outcome(fold_long_way, name, pieces, sep)


def test_the_date_of_now_is_formatdate_of_now() -> None:
    for _ in range(5):  # a second may turn between the calls: try again then
        before = formatdate(localtime=True)
        ours = prepare_module._date_now()
        if formatdate(localtime=True) == before:
            assert ours == before
            return
    pytest.fail("the clock turned a second on every try")


@pytest.fixture
def zone() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.usefixtures("zone")
def test_the_date_of_now_follows_a_time_zone_change_within_the_second() -> None:
    os.environ["TZ"] = "UTC0"
    time.tzset()
    assert prepare_module._date_now().endswith("+0000")
    os.environ["TZ"] = "XYZ-5"  # five hours east of UTC, in POSIX notation
    time.tzset()
    assert prepare_module._date_now().endswith("+0500")


# -- whole messages: every shortcut replaced by its long way ----------------------------------


def prepared_both_ways(message: Message, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """``prepare(message)`` as it is and with the long ways patched in. Both writers' MIME
    boundaries are numbered instead of random, afresh for each way, so the bytes can be compared."""
    numbers = itertools.count()
    monkeypatch.setattr(fastmime, "_boundary", lambda: f"=_fast_{next(numbers)}")
    monkeypatch.setattr(email.generator.Generator, "_make_boundary",
                        classmethod(lambda cls, text=None: f"=_stdlib_{next(numbers)}"))

    def run() -> object:
        nonlocal numbers
        numbers = itertools.count()
        prepare_module._sender.cache_clear()  # so each way parses the sender itself
        try:
            p = prepare(message)
        except InvalidMessage as exc:
            return ("refused", str(exc))
        return (p.envelope_from, p.recipients, p.data, p.message_id, p.category, p.smtputf8)

    fast = run()
    with monkeypatch.context() as patch:
        patch.setattr(addresses, "_split", split_long_way)
        patch.setattr(prepare_module, "validate_category", category_long_way)
        patch.setattr(fastmime, "_fold", fold_long_way)
        slow = run()
    return fast, slow


def pieces(alphabet: str, long: str, max_size: int) -> st.SearchStrategy[str]:
    """Text of single characters from ``alphabet`` and runs of ``long`` (over-long lines, words)."""
    return st.lists(st.sampled_from([*alphabet, long]), max_size=max_size).map("".join)


TEXT = pieces("Hola a b.\nñ€=\t", "x" * 40, 300)
SUBJECT = pieces("Your order 1 shipped ñ=?\t", "word" * 30, 60)
CATEGORY = st.none() | st.text(st.sampled_from(list("ORDER_shipped -ñ")), min_size=1, max_size=30) | st.just("a\u200b")
ADDRESS = address_text(noise=False)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(ADDRESS, st.lists(ADDRESS, min_size=1, max_size=3), st.lists(ADDRESS, max_size=2),
       st.lists(ADDRESS, max_size=2), SUBJECT, TEXT, st.none() | TEXT, CATEGORY)
def test_whole_messages_are_the_same_bytes_and_envelope_either_way(
    sender: str, to: list[str], cc: list[str], bcc: list[str], subject: str, text: str,
    html: str | None, category: str | None,
) -> None:
    message = Message(from_email=sender, to=to, cc=cc, bcc=bcc, subject=subject, text=text, html=html,
                      category=category, date=0.0, headers={"Message-ID": "<fixed@example.com>"})
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = prepared_both_ways(message, monkeypatch)
    event("refused" if isinstance(fast, tuple) and fast[0] == "refused" else "prepared")
    assert fast == slow


def test_the_benchmark_message_is_the_same_bytes_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    message = Message(from_email="Shop <shop@example.com>", to="customer@example.org",
                      subject="Your order 12345 has shipped", text="Hello Ana,\n\nThanks!\n",
                      html="<p>Hello Ana,</p>", category="ORDER_SHIPPED", date=0.0,
                      headers={"Message-ID": "<fixed@example.com>"})
    fast, slow = prepared_both_ways(message, monkeypatch)
    assert fast == slow
    assert isinstance(fast, tuple) and fast[0] == "shop@example.com"


@pytest.mark.parametrize("field", ["from_email", "to"])
def test_a_mailbox_too_long_for_a_header_line_is_left_to_the_stdlib_writer(field: str) -> None:
    long = f"{'Ana ' * 240}<ana@example.org>"  # 977 characters: no room for "From: " and folding
    fields = {"from_email": "shop@example.com", "to": "customer@example.org", field: long}
    message = Message(subject="x", text="x", **fields)  # type: ignore[arg-type]
    headers = prepare_module.resolve_headers(message)
    assert fastmime.write(headers, "x", None, []) is None
    data = prepare(message).data
    assert max(len(line) for line in data.split(b"\r\n")) <= fastmime.MAX_LINE


def test_a_refused_sender_is_refused_every_time_and_a_good_one_parsed_once() -> None:
    prepare_module._sender.cache_clear()
    for _ in range(2):
        with pytest.raises(InvalidMessage, match="from_email"):
            prepare(Message(from_email="not an address", to="b@example.net", text="x"))
    first = prepare(Message(from_email="Shop <shop@example.com>", to="b@example.net", text="x"))
    again = prepare(Message(from_email="Shop <shop@example.com>", to="c@example.net", text="y"))
    assert first.envelope_from == again.envelope_from == "shop@example.com"
    assert prepare_module._sender.cache_info().hits == 1
