"""The test identity provider refuses what a real one refuses — else the browser test would prove less than it says:
the client secret, the registered redirect URI, single-use codes, PKCE and the nonce are checked, and the ID token
verifies with the published key and Authlib's own ID-token rules (as Streamlit's st.login checks it)."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time

import httpx
import pytest

from tests.oidc.provider import Provider

CLIENT_ID, CLIENT_SECRET = "counting-house", "the-client-secret"
REDIRECT = "http://127.0.0.1:8620/oauth2callback"


@pytest.fixture
def idp():
    with Provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT,
                  unverified=frozenset({"una@corp.example"})) as running:
        yield running


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _request(challenge: str, **overrides) -> dict[str, str]:
    return {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": "openid email profile",
            "state": "st-1", "nonce": "n-1", "code_challenge": challenge, "code_challenge_method": "S256",
            "prompt": "select_account", **overrides}


def _code(idp: Provider, challenge: str, email: str = "fiona@corp.example", **overrides) -> str:
    """The sign-in form submitted: the code in the redirect back to the app."""
    answer = httpx.post(f"{idp.issuer}/authorize", data={**_request(challenge, **overrides), "email": email})
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?") and "state=st-1" in location
    return re.search(r"code=([^&]+)", location).group(1)


def _token(idp: Provider, code: str, verifier: str, *, secret: str = CLIENT_SECRET, redirect: str = REDIRECT):
    return httpx.post(f"{idp.issuer}/token", auth=(CLIENT_ID, secret),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                            "code_verifier": verifier})


def test_the_discovery_document_and_the_sign_in_form(idp: Provider):
    meta = httpx.get(idp.metadata_url).json()
    assert meta["issuer"] == idp.issuer and meta["code_challenge_methods_supported"] == ["S256"]
    verifier, challenge = _pkce()
    form = httpx.get(f"{idp.issuer}/authorize", params=_request(challenge))
    assert form.status_code == 200 and 'name="email"' in form.text and 'value="n-1"' in form.text
    for wrong, why in (({"client_id": "someone-else"}, "unknown client"),
                       ({"redirect_uri": "http://evil.example/cb"}, "is not registered")):
        refused = httpx.get(f"{idp.issuer}/authorize", params=_request(challenge, **wrong))
        assert refused.status_code == 400 and why in refused.text  # an error page, never a redirect there
    no_openid = httpx.get(f"{idp.issuer}/authorize", params=_request(challenge, scope="email"))
    assert no_openid.status_code == 302 and "error=invalid_scope" in no_openid.headers["location"]


def test_the_id_token_verifies_as_streamlit_checks_it(idp: Provider):
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.jwk import KeySet

    verifier, challenge = _pkce()
    answer = _token(idp, _code(idp, challenge, email="Fiona@Corp.example"), verifier)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(httpx.get(f"{idp.issuer}/jwks").json()))
    claims = CodeIDToken(decoded.claims, decoded.header, {"iss": {"values": [idp.issuer]}},
                         {"nonce": "n-1", "client_id": CLIENT_ID, "access_token": token["access_token"]})
    claims.validate(now=int(time.time()))  # iss, aud, exp, iat, nonce and at_hash
    assert (claims["email"], claims["email_verified"]) == ("Fiona@Corp.example", True)
    with pytest.raises(Exception, match="nonce"):
        CodeIDToken(decoded.claims, decoded.header, None, {"nonce": "another", "client_id": CLIENT_ID}).validate()
    me = httpx.get(f"{idp.issuer}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json()["email"] == "Fiona@Corp.example"
    assert httpx.get(f"{idp.issuer}/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401

    verifier, challenge = _pkce()
    unverified = _token(idp, _code(idp, challenge, email="una@corp.example"), verifier).json()
    assert jwt.decode(unverified["id_token"], idp._key).claims["email_verified"] is False


def test_the_token_endpoint_refuses_what_a_real_provider_refuses(idp: Provider):
    verifier, challenge = _pkce()
    refused = _token(idp, _code(idp, challenge), verifier, secret="wrong")
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    for kind, answer in (
            ("PKCE verifier wrong", _token(idp, _code(idp, challenge), _pkce()[0])),
            ("redirect_uri differs", _token(idp, _code(idp, challenge), verifier, redirect=REDIRECT + "x")),
            ("unknown code", _token(idp, "made-up", verifier))):
        assert (answer.status_code, answer.json()) == (400, {"error": "invalid_grant", "error_description": kind})
    code = _code(idp, challenge)
    assert _token(idp, code, verifier).status_code == 200
    again = _token(idp, code, verifier)  # a code is good once
    assert (again.status_code, again.json()["error_description"]) == (400, "code used already")
