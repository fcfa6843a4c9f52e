"""The README's FastAPI app, run as written against the fake relay (so the documentation works)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.fastapi.helpers import batch, event, running

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(section: str, after: str) -> str:
    """The first ```python block after the heading ``after`` in the README's ``section``."""
    text = README.read_text()
    start = text.index(after, text.index(section))
    match = re.compile(r"```python\n(.*?)```", re.DOTALL).search(text, start)
    assert match is not None
    return match.group(1)


async def test_the_readme_app(relay_env: FakeRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "events.sqlite3"))
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_TOKEN", "made-up-readme-token")
    module = ModuleType("readme_app")
    code = compile(readme_block("\n## FastAPI\n", "### A complete app"), "README.md", "exec", dont_inherit=True)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(code, module.__dict__)
    app: Any = module.app
    async with running(app) as client:
        signup = await client.post("/signup", json={"email": "ana@example.org", "name": "Ana"})
        assert signup.status_code == 200 and signup.json()["status"] == "sent"
        receipt = await client.post("/receipt", json={"email": "ana@example.org", "name": "Ana"})
        assert receipt.status_code == 200 and receipt.json()["message_id"]
        hook = await client.post("/acumbamail/webhook/made-up-readme-token",
                                 content=batch(event("hard_bounces", "ana@example.org")))
        assert hook.status_code == 200
        again = await client.post("/signup", json={"email": "ana@example.org", "name": "Ana"})
        assert again.json() == {"status": "refused", "suppressed": ["ana@example.org"]}
    first, second = relay_env.wait_for(2)
    assert (first.category, second.category) == ("SIGNUP", "RECEIPT")
    assert signup.json()["queue_id"] == first.id
    assert "suppressed ana@example.org" in capsys.readouterr().out
