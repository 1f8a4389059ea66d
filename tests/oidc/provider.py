"""A small OpenID Connect provider for the tests: the company's identity provider, on a free loopback port.

It plays Okta / Entra ID / Google for Streamlit's ``st.login`` (Authlib's Starlette client): the authorization-code
flow with PKCE (S256) and a nonce, and an ID token signed RS256 with a key made at start. Its sign-in page is a form
with one field, the email address: whoever types an address is that person (a test directory, no passwords), and
the provider says the address is verified unless it is listed in ``unverified``.

Everything a real provider refuses, this one refuses too, with the OAuth error a client gets: an unknown client or a
redirect URI that is not registered (an error page — never a redirect to an unknown address), a wrong client secret
(401 invalid_client), a code used twice, given to another client or another redirect URI, expired, or a PKCE
verifier that does not match (400 invalid_grant). ``events`` lists what happened, for the tests to check.

    with Provider(client_id="app", client_secret="s3cret", redirect_uri="http://127.0.0.1:8620/oauth2callback") as idp:
        idp.metadata_url   # → [auth] server_metadata_url
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

CODE_SECONDS = 60  # an authorization code is good for a minute, once
TOKEN_SECONDS = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _half_hash(value: str) -> str:
    """at_hash (OpenID Connect Core 3.1.3.6): the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return _b64url(digest[: len(digest) // 2])


def _pkce_s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class _Grant:
    """What the provider remembers between the sign-in form and the token request."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    email: str
    expires: float
    used: bool = False


@dataclass
class Provider:
    client_id: str
    client_secret: str
    redirect_uri: str
    unverified: frozenset[str] = frozenset()  # addresses the provider does not vouch for (email_verified false)
    host: str = "127.0.0.1"
    events: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        from joserfc.jwk import RSAKey

        self._key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig",
                                                          "alg": "RS256"})
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, dict] = {}  # access token → the claims /userinfo answers with
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- life ------------------------------------------------------------------------------------------------

    def start(self) -> Provider:
        provider = self

        class Handler(_Handler):
            idp = provider

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="test-oidc-provider", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Provider:
        return self.start()

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.stop()

    @property
    def issuer(self) -> str:
        assert self._server is not None, "start the provider first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified",
                                 "name"],
        }

    def _event(self, kind: str, **details) -> None:
        with self._lock:
            self.events.append({"event": kind, **details})

    def kinds(self) -> list[str]:
        with self._lock:
            return [e["event"] for e in self.events]

    # ---- the flow --------------------------------------------------------------------------------------------

    def authorize_problem(self, q: dict[str, str]) -> str | None:
        """Why an authorization request cannot even be answered with a redirect (shown as an error page)."""
        if q.get("client_id") != self.client_id:
            return f"unknown client '{q.get('client_id', '')}'"
        if q.get("redirect_uri") != self.redirect_uri:
            return f"the redirect URI '{q.get('redirect_uri', '')}' is not registered for this client"
        return None

    def authorize_error(self, q: dict[str, str]) -> str | None:
        """An OAuth error for a request from a known client (sent back to its redirect URI)."""
        if q.get("response_type") != "code":
            return "unsupported_response_type"
        if "openid" not in q.get("scope", "").split():
            return "invalid_scope"
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return "invalid_request"
        return None

    def grant(self, q: dict[str, str], email: str) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(q["client_id"], q["redirect_uri"], q.get("nonce"), q.get("code_challenge"),
                                        q.get("code_challenge_method"), email, time.time() + CODE_SECONDS)
        self._event("authorized", email=email, pkce=bool(q.get("code_challenge")), nonce=bool(q.get("nonce")),
                    prompt=q.get("prompt"), scope=q.get("scope"))
        return code

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or not secrets.compare_digest(secret.encode(), self.client_secret.encode()):
            self._event("token refused", error="invalid_client")
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.get(form.get("code", ""))
            reused = grant is not None and grant.used
            if grant is not None:
                grant.used = True
        problem = ("unknown code" if grant is None else "code used already" if reused
                   else "code expired" if grant.expires < time.time()
                   else "code of another client" if grant.client_id != client_id
                   else "redirect_uri differs" if grant.redirect_uri != form.get("redirect_uri")
                   else "PKCE verifier missing" if grant.code_challenge and not form.get("code_verifier")
                   else "PKCE verifier wrong" if grant.code_challenge
                   and _pkce_s256(form["code_verifier"]) != grant.code_challenge
                   else None)
        if problem:
            self._event("token refused", error="invalid_grant", why=problem)
            return 400, {"error": "invalid_grant", "error_description": problem}
        now = int(time.time())
        access_token = secrets.token_urlsafe(32)
        person = {"sub": hashlib.sha256(grant.email.encode()).hexdigest()[:20], "email": grant.email,
                  "email_verified": grant.email not in self.unverified,
                  "name": grant.email.split("@")[0].replace(".", " ").title()}
        claims = {"iss": self.issuer, "aud": client_id, "iat": now, "exp": now + TOKEN_SECONDS, "auth_time": now,
                  "at_hash": _half_hash(access_token), **person}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        from joserfc import jwt

        id_token = jwt.encode({"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}, claims, self._key)
        with self._lock:
            self._tokens[access_token] = person
        self._event("token issued", email=grant.email, pkce_checked=bool(grant.code_challenge),
                    nonce=bool(grant.nonce))
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                     "scope": "openid email profile", "id_token": id_token}

    def userinfo(self, bearer: str | None) -> dict | None:
        with self._lock:
            return self._tokens.get(bearer or "")

    def jwks(self) -> dict:
        return {"keys": [self._key.as_dict(private=False)]}


SIGN_IN_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corp identity — sign in</title>
<style>body{{font-family:sans-serif;background:#eef2f7;display:flex;justify-content:center;padding-top:80px}}
form{{background:#fff;padding:32px 40px;border-radius:8px;box-shadow:0 2px 8px #0002;width:360px}}
h1{{font-size:20px}} label{{display:block;margin:16px 0 6px}} input[type=email]{{width:100%;padding:8px;
box-sizing:border-box}} button{{margin-top:20px;padding:8px 18px;background:#1d4ed8;color:#fff;border:0;
border-radius:4px}}</style></head>
<body><form method="post" action="/authorize">
<h1>Corp identity</h1><p>Sign in to continue to <b>{client}</b>.</p>
{hidden}
<label for="email">Work email</label><input id="email" name="email" type="email" required autofocus>
<button type="submit">Sign in</button></form></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    idp: Provider  # set by Provider.start on a subclass

    def log_message(self, format, *args) -> None:  # noqa: A002, ANN001, ANN002 - quiet: events say what happened
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict, headers: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _page(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _redirect(self, url: str) -> None:
        self._send(302, b"", "text/plain", {"Location": url})

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8")
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        idp = self.idp
        if path == "/.well-known/openid-configuration":
            self._json(200, idp.metadata())
        elif path == "/jwks":
            self._json(200, idp.jwks())
        elif path == "/authorize":
            self._authorize(self._query(), email=None)
        elif path == "/userinfo":
            auth = self.headers.get("Authorization", "")
            person = idp.userinfo(auth[7:] if auth.startswith("Bearer ") else None)
            if person is None:
                self._json(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            else:
                self._json(200, person)
        elif path == "/logout":
            q = self._query()
            back = q.get("post_logout_redirect_uri")
            idp._event("signed out", client_id=q.get("client_id"), had_id_token=bool(q.get("id_token_hint")))
            if back and back == idp.redirect_uri:
                self._redirect(back + ("?" + urlencode({"state": q["state"]}) if q.get("state") else ""))
            else:
                self._page(200, "<p>You are signed out of Corp identity.</p>")
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/authorize":
            form = self._form()
            self._authorize(form, email=form.get("email", ""))
        elif path == "/token":
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
                basic = (unquote(user), unquote(password))  # RFC 6749 2.3.1: form-encoded, then Basic
            status, answer = self.idp.token(self._form(), basic)
            self._json(status, answer, {"Pragma": "no-cache"})
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, q: dict[str, str], *, email: str | None) -> None:
        idp = self.idp
        if problem := idp.authorize_problem(q):
            idp._event("authorize refused", why=problem)
            self._page(400, f"<p>Sign-in request refused: {html.escape(problem)}</p>")
            return
        back = {"state": q["state"]} if q.get("state") else {}
        if error := idp.authorize_error(q):
            idp._event("authorize refused", why=error)
            self._redirect(f"{q['redirect_uri']}?{urlencode({'error': error, **back})}")
            return
        if email is None:  # the sign-in page, carrying the request along
            carried = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                       "code_challenge_method", "prompt")
            hidden = "\n".join(f'<input type="hidden" name="{k}" value="{html.escape(q[k])}">'
                               for k in carried if k in q)
            self._page(200, SIGN_IN_FORM.format(client=html.escape(q["client_id"]), hidden=hidden))
            return
        code = idp.grant(q, email.strip())
        self._redirect(f"{q['redirect_uri']}?{urlencode({'code': code, **back})}")
