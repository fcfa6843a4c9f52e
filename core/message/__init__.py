"""Messages: the model a caller fills in, its addresses and category, :func:`prepare` (validate and
serialize once) and the MIME writers. Names load on first use, so importing the package stays cheap.

Modules, each importing only those before it: ``addresses`` and ``categories`` (no dependencies),
``model`` (the data types), ``fastmime`` and ``mime`` (the writers), ``prepare``.
"""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .addresses import ParsedAddress as ParsedAddress
    from .addresses import idna_domain as idna_domain
    from .addresses import parse_address as parse_address
    from .addresses import parse_address_list as parse_address_list
    from .categories import CATEGORY_HEADER as CATEGORY_HEADER
    from .categories import MAX_CATEGORY_LENGTH as MAX_CATEGORY_LENGTH
    from .categories import validate_category as validate_category
    from .mime import build_email_message as build_email_message
    from .mime import serialize as serialize
    from .mime import serialize_stdlib as serialize_stdlib
    from .model import RESERVED_HEADERS as RESERVED_HEADERS
    from .model import AddressList as AddressList
    from .model import Attachment as Attachment
    from .model import Headers as Headers
    from .model import Message as Message
    from .model import PreparedMessage as PreparedMessage
    from .model import message_from_mapping as message_from_mapping
    from .prepare import MessageDefaults as MessageDefaults
    from .prepare import prepare as prepare
    from .prepare import prepare_raw as prepare_raw
    from .prepare import resolve_headers as resolve_headers

#: The public names and their modules (the fast writer's internals stay in ``fastmime``).
_HOMES = {
    **homes(".addresses", "ParsedAddress", "idna_domain", "parse_address", "parse_address_list"),
    **homes(".categories", "CATEGORY_HEADER", "MAX_CATEGORY_LENGTH", "validate_category"),
    **homes(".mime", "build_email_message", "serialize", "serialize_stdlib"),
    **homes(".model", "AddressList", "Attachment", "Headers", "Message", "PreparedMessage",
            "RESERVED_HEADERS", "message_from_mapping"),
    **homes(".prepare", "MessageDefaults", "prepare", "prepare_raw", "resolve_headers"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
