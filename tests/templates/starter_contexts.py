"""Sample contexts of the starter templates, with every documented variable."""

from __future__ import annotations

import base64
from typing import Any

_LOGO_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32">'
             b'<rect width="120" height="32" rx="6" fill="#1a56db"/></svg>')
#: A logo that needs no network: the starters show it in their header.
LOGO_URL = "data:image/svg+xml;base64," + base64.b64encode(_LOGO_SVG).decode("ascii")

_LAYOUT: dict[str, Any] = {
    "brand_name": "Tom & Jerry's Shop",
    "brand_url": "https://shop.example/",
    "logo_url": LOGO_URL,
    "footer_text": "Tom & Jerry's Shop SL, Calle Mayor 1, 28013 Madrid",
    "unsubscribe_url": "https://shop.example/unsubscribe?u=42&t=abc",
    "lang": "es",
}

#: Each starter template with every variable its header comment documents (long values on
#: purpose: a long URL and a long item name must not widen the page on a phone).
STARTER_CONTEXTS: dict[str, dict[str, Any]] = {
    "registration_confirmation": {
        **_LAYOUT,
        "name": "Ana & Luis",
        "confirm_url": "https://shop.example/confirm/" + "x" * 90 + "?a=1&b=2",
        "expires_in": "24 hours",
    },
    "password_reset": {
        **_LAYOUT,
        "name": "Ana",
        "reset_url": "https://shop.example/reset/" + "0123456789abcdef" * 6,
        "expires_in": "1 hour",
    },
    "order_confirmation": {
        **_LAYOUT,
        "name": "Ana",
        "order_number": "A-1042",
        "items": [
            {"name": "Blue ceramic mug <large>", "quantity": 2, "price": "€18.00"},
            {"name": "Supercalifragilisticexpialidocious-tea-sampler-deluxe-edition",
             "quantity": 1, "price": "€24.50"},
            {"name": "Gift wrap", "quantity": 1, "price": "€2.00"},
        ],
        "subtotal": "€44.50",
        "shipping": "€4.95",
        "tax": "€9.35",
        "total": "€58.80",
        "order_url": "https://shop.example/orders/A-1042",
        "shipping_address": "Ana García\nCalle Mayor 1, 3º B\n28013 Madrid",
    },
    "notification": {
        **_LAYOUT,
        "title": "Your export is ready",
        "message": "The export you asked for is ready.\n\nIt stays available for 7 days.",
        "name": "Ana",
        "action_url": "https://shop.example/exports/77",
        "action_label": "Download the export",
    },
}
