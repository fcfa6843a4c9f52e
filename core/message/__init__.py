"""Messages: the model a caller fills in, its addresses and category, and the MIME bytes it becomes."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .addresses import (
        ParsedAddress as ParsedAddress,
    )
    from .addresses import (
        idna_domain as idna_domain,
    )
    from .addresses import (
        parse_address as parse_address,
    )
    from .addresses import (
        parse_address_list as parse_address_list,
    )
    from .categories import (
        CATEGORY_HEADER as CATEGORY_HEADER,
    )
    from .categories import (
        MAX_CATEGORY_LENGTH as MAX_CATEGORY_LENGTH,
    )
    from .categories import (
        validate_category as validate_category,
    )
    from .fastmime import (
        FOLD_AT as FOLD_AT,
    )
    from .fastmime import (
        MAX_LINE as MAX_LINE,
    )
    from .fastmime import (
        Part as Part,
    )
    from .fastmime import (
        Unsupported as Unsupported,
    )
    from .fastmime import (
        encoded_words as encoded_words,
    )
    from .fastmime import (
        mailbox as mailbox,
    )
    from .fastmime import (
        unstructured as unstructured,
    )
    from .fastmime import (
        write as write,
    )
    from .mime import (
        build_email_message as build_email_message,
    )
    from .mime import (
        serialize as serialize,
    )
    from .mime import (
        serialize_stdlib as serialize_stdlib,
    )
    from .model import (
        RESERVED_HEADERS as RESERVED_HEADERS,
    )
    from .model import (
        AddressList as AddressList,
    )
    from .model import (
        Attachment as Attachment,
    )
    from .model import (
        Headers as Headers,
    )
    from .model import (
        Message as Message,
    )
    from .model import (
        PreparedMessage as PreparedMessage,
    )
    from .model import (
        message_from_mapping as message_from_mapping,
    )
    from .model import (
        prepare as prepare,
    )
    from .model import (
        prepare_raw as prepare_raw,
    )
    from .model import (
        resolve_headers as resolve_headers,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "AddressList": ".model",
    "Attachment": ".model",
    "CATEGORY_HEADER": ".categories",
    "FOLD_AT": ".fastmime",
    "Headers": ".model",
    "MAX_CATEGORY_LENGTH": ".categories",
    "MAX_LINE": ".fastmime",
    "Message": ".model",
    "ParsedAddress": ".addresses",
    "Part": ".fastmime",
    "PreparedMessage": ".model",
    "RESERVED_HEADERS": ".model",
    "Unsupported": ".fastmime",
    "build_email_message": ".mime",
    "encoded_words": ".fastmime",
    "idna_domain": ".addresses",
    "mailbox": ".fastmime",
    "message_from_mapping": ".model",
    "parse_address": ".addresses",
    "parse_address_list": ".addresses",
    "prepare": ".model",
    "prepare_raw": ".model",
    "resolve_headers": ".model",
    "serialize": ".mime",
    "serialize_stdlib": ".mime",
    "unstructured": ".fastmime",
    "validate_category": ".categories",
    "write": ".fastmime",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
