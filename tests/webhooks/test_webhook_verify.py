"""WebhookVerifier: URL token, HTTP Basic (with rotation) and Standard Webhooks signatures
(with rotation and a timestamp window); 401 when credentials are missing, 403 when wrong, and
never a secret in an error, a repr or a log line."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from acumbamail_smtp import ConfigError, WebhookAuthError, WebhookVerifier
from acumbamail_smtp.webhooks.verify import sign_webhook

TOKEN = "tok-8d1f0c2b9e6a4f73"
SECRET_A = "whsec_" + base64.b64encode(b"first-signing-key-0123456789").decode()
SECRET_B = "whsec_" + base64.b64encode(b"second-signing-key-987654321").decode()
BODY = b'{"1": {"event": "opens", "email": "a@example.com", "timestamp": 1734436800}}'


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def signed(secret: str, body: bytes = BODY, *, msg_id: str = "msg_1", when: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if when is None else when
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign_webhook(secret, msg_id, stamp, body)}


def rejected(verifier: WebhookVerifier, **request: object) -> WebhookAuthError:
    with pytest.raises(WebhookAuthError) as info:
        verifier.verify(request.pop("body", BODY), **request)  # type: ignore[arg-type]
    return info.value


# -- construction -----------------------------------------------------------------------------------


def test_no_method_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="configure a token, basic_auth or signing_secrets"):
        WebhookVerifier()


def test_insecure_accepts_anything_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.webhooks"):
        verifier = WebhookVerifier(insecure=True)
    assert "verification is disabled" in caplog.text
    verifier.verify(BODY, headers={}, query={})
    assert verifier.methods == ()


def test_insecure_does_not_switch_off_configured_methods() -> None:
    verifier = WebhookVerifier(token=TOKEN, insecure=True)
    assert rejected(verifier, query={}).status == 401


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"token": ""}, "token"),
    ({"token": "   "}, "token"),
    ({"basic_auth": []}, "basic_auth"),
    ({"basic_auth": [("user", "")]}, "basic_auth"),
    ({"basic_auth": [("us:er", "pw")]}, "basic_auth"),
    ({"basic_auth": [("a", "b", "c")]}, "basic_auth"),
    ({"signing_secrets": []}, "signing_secrets"),
    ({"signing_secrets": ["whsec_***not-base64***"]}, "signing_secrets"),
    ({"signing_secrets": ["whsec_" + base64.b64encode(b"short").decode()]}, "signing_secrets"),
])
def test_bad_configuration_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        WebhookVerifier(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_one_basic_pair_may_be_given_bare() -> None:
    verifier = WebhookVerifier(basic_auth=("hook", "pa55word"))  # type: ignore[arg-type]
    verifier.verify(BODY, headers=basic("hook", "pa55word"))


# -- token ------------------------------------------------------------------------------------------


def test_token_in_query_or_path() -> None:
    verifier = WebhookVerifier(token=TOKEN)
    verifier.verify(BODY, query={"token": TOKEN})
    verifier.verify(BODY, path_token=TOKEN, query={})
    assert verifier.methods == ("token",)


def test_token_missing_is_401_and_wrong_is_403() -> None:
    verifier = WebhookVerifier(token=TOKEN)
    assert rejected(verifier, query={}).status == 401
    assert rejected(verifier, query={"token": ""}).status == 401
    assert rejected(verifier, query={"token": TOKEN[:-1]}).status == 403
    assert rejected(verifier, query={"token": TOKEN + "x"}).status == 403
    assert rejected(verifier, path_token="nope", query={}).status == 403
    assert rejected(verifier, query={"token": "ñandú"}).status == 403


# -- HTTP Basic -------------------------------------------------------------------------------------


def test_basic_auth_with_rotation() -> None:
    verifier = WebhookVerifier(basic_auth=[("hook", "old-pass-1"), ("hook", "new-pass-2")])
    verifier.verify(BODY, headers=basic("hook", "old-pass-1"))
    verifier.verify(BODY, headers={"authorization": basic("hook", "new-pass-2")["Authorization"]})
    assert rejected(verifier, headers=basic("hook", "other")).status == 403
    assert rejected(verifier, headers=basic("other", "new-pass-2")).status == 403


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Basic", "Basic !!!notbase64",
                                    "Basic " + base64.b64encode(b"no-colon").decode()])
def test_basic_auth_missing_or_malformed_is_401(header: str | None) -> None:
    verifier = WebhookVerifier(basic_auth=[("hook", "pw-123456")])
    headers = {} if header is None else {"Authorization": header}
    assert rejected(verifier, headers=headers).status == 401


# -- Standard Webhooks signatures ---------------------------------------------------------------------


def test_signature_good_and_rotated() -> None:
    verifier = WebhookVerifier(signing_secrets=[SECRET_A, SECRET_B])
    verifier.verify(BODY, headers=signed(SECRET_A))
    verifier.verify(BODY, headers=signed(SECRET_B))
    one_secret = WebhookVerifier(signing_secrets=SECRET_B)  # type: ignore[arg-type]
    assert rejected(one_secret, headers=signed(SECRET_A)).status == 403


def test_several_signatures_in_the_header_any_may_match() -> None:
    verifier = WebhookVerifier(signing_secrets=[SECRET_B])
    headers = signed(SECRET_B)
    good = headers["webhook-signature"]
    headers["webhook-signature"] = f"v1,AAAA v2,{good[3:]} {good}"
    verifier.verify(BODY, headers=headers)
    headers["webhook-signature"] = f"v2,{good[3:]}"  # right bytes, unknown version
    assert rejected(verifier, headers=headers).status == 403


def test_signature_missing_headers_is_401() -> None:
    verifier = WebhookVerifier(signing_secrets=[SECRET_A])
    headers = signed(SECRET_A)
    for name in headers:
        partial = {k: v for k, v in headers.items() if k != name}
        assert rejected(verifier, headers=partial).status == 401


def test_signature_over_another_body_or_id_is_403() -> None:
    verifier = WebhookVerifier(signing_secrets=[SECRET_A])
    assert rejected(verifier, headers=signed(SECRET_A), body=BODY + b" ").status == 403
    headers = signed(SECRET_A)
    headers["webhook-id"] = "msg_2"
    assert rejected(verifier, headers=headers).status == 403


def test_stale_or_future_or_garbled_timestamps_are_403() -> None:
    verifier = WebhookVerifier(signing_secrets=[SECRET_A])
    now = int(time.time())
    assert rejected(verifier, headers=signed(SECRET_A, when=now - 301), now=now).status == 403
    assert rejected(verifier, headers=signed(SECRET_A, when=now + 301), now=now).status == 403
    verifier.verify(BODY, headers=signed(SECRET_A, when=now - 299), now=now)
    headers = signed(SECRET_A)
    headers["webhook-timestamp"] = "yesterday"
    assert rejected(verifier, headers=headers).status == 403


def test_matches_the_fake_relay_signer() -> None:
    from acumbamail_smtp.testserver.webhooks import parse_signing_secret, signature

    stamp = str(int(time.time()))
    header = signature(parse_signing_secret(SECRET_A), "msg_x", stamp, BODY)
    assert header == sign_webhook(SECRET_A, "msg_x", int(stamp), BODY)
    WebhookVerifier(signing_secrets=[SECRET_A]).verify(
        BODY, headers={"webhook-id": "msg_x", "webhook-timestamp": stamp, "webhook-signature": header})


# -- combined ---------------------------------------------------------------------------------------


def test_every_configured_method_must_pass() -> None:
    verifier = WebhookVerifier(token=TOKEN, basic_auth=[("hook", "pw-123456")], signing_secrets=[SECRET_A])
    assert verifier.methods == ("token", "basic", "signature")
    good = {**basic("hook", "pw-123456"), **signed(SECRET_A)}
    verifier.verify(BODY, headers=good, query={"token": TOKEN})
    assert rejected(verifier, headers=good, query={}).status == 401
    assert rejected(verifier, headers=signed(SECRET_A), query={"token": TOKEN}).status == 401
    assert rejected(verifier, headers=basic("hook", "pw-123456"), query={"token": TOKEN}).status == 401


def test_no_secret_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    password = "bas1c-pa55word"
    verifier = WebhookVerifier(token=TOKEN, basic_auth=[("hook", password)], signing_secrets=[SECRET_A])
    secrets = [TOKEN, password, SECRET_A, SECRET_A.removeprefix("whsec_")]
    texts = [repr(verifier), str(verifier)]
    with caplog.at_level(logging.DEBUG):
        for request in ({"query": {"token": TOKEN[:-2]}},
                        {"query": {"token": TOKEN}, "headers": basic("hook", password[:-1])},
                        {"query": {"token": TOKEN}, "headers": {**basic("hook", password), **signed(SECRET_B)}}):
            error = rejected(verifier, **request)
            texts += [str(error), repr(error)]
    texts.append(caplog.text)
    for text in texts:
        for secret in secrets:
            assert secret not in text
