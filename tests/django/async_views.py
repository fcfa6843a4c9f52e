"""An async view of the test project: the sign-up mail sent with ``asend_mail`` from the loop."""

from __future__ import annotations

from acumbamail_smtp.integrations.django.aio import asend_mail
from django.http import HttpRequest, JsonResponse


async def signup(request: HttpRequest) -> JsonResponse:
    """Send the welcome mail to ``?to=`` and answer with the count ``asend_mail`` returned."""
    sent = await asend_mail("Welcome", "Hello", None, [request.GET["to"]])
    return JsonResponse({"sent": sent})
