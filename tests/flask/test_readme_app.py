"""The README's complete Flask app runs as written, against the fake relay."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from acumbamail_smtp.integrations.flask import tracking_event
from acumbamail_smtp.testserver import FakeRelay

from .conftest import TOKEN, relay_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_app(tmp_path: Path) -> ModuleType:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Flask\n"):]
    section = section[section.index("### A complete app"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    path = tmp_path / "readme_flask_app.py"
    path.write_text(code.group(1), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readme_flask_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_flask_app"] = module
    spec.loader.exec_module(module)
    return module


def test_the_readme_app_sends_receives_events_and_suppresses(tmp_path: Path, relay: FakeRelay,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ACUMBAMAIL_AUTH_TOKEN", "made-up-overridden-below")
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_TOKEN", TOKEN)
    module = readme_app(tmp_path)
    try:
        settings = relay_settings(relay)
        del settings["ACUMBAMAIL_DEFAULT_SENDER"]  # the README's own sender is used
        app = module.create_app(settings)
        app.instance_path = str(tmp_path / "instance")
        client = app.test_client()

        signup = client.post("/signup", data={"email": "ana@example.net", "name": "Ana"})
        assert signup.status_code == 200 and signup.get_json()["status"] == "sent"
        receipt = client.post("/receipt", data={"email": "ana@example.net"})
        assert receipt.get_json() == {"status": "sent"}
        first, second = relay.wait_for(2)
        assert (first.category, first.message["From"]) == ("SIGNUP", "Shop <shop@example.com>")
        assert second.category == "RECEIPT" and b"receipt.txt" in second.data

        event = {"email_key": first.id, "timestamp": time.time(), "email": "ana@example.net",
                 "event": "hard_bounces", "campaign_id": None, "list_id": None, "subscriber_fields": {}}
        hook = client.post(f"/acumbamail/webhook/{TOKEN}", data=json.dumps({"1": event}),
                           content_type="application/json")
        assert hook.status_code == 200
        assert "hard_bounce for ana@example.net (SIGNUP)" in caplog.text

        again = client.post("/signup", data={"email": "ana@example.net", "name": "Ana"})
        assert again.status_code == 422
        assert again.get_json() == {"status": "refused", "suppressed": ["ana@example.net"]}
        assert len(relay.messages) == 2
    finally:
        tracking_event.disconnect(module.on_event)
        sys.modules.pop("readme_flask_app", None)
