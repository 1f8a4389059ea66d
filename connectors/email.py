"""Email through yagmail over SMTP. Settings come from the environment (or .streamlit/secrets.toml via the app):
SMTP_HOST, SMTP_PORT (587), SMTP_USER, SMTP_PASSWORD, SMTP_FROM, SMTP_TLS (starttls | ssl | none).
A local server without TLS or login (the tests' aiosmtpd) is SMTP_TLS=none with no user."""
from __future__ import annotations

import os
from dataclasses import dataclass

from core.errors import UserError


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = ""
    tls: str = "starttls"  # starttls | ssl | none

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        host = os.environ.get("SMTP_HOST", "").strip()
        if not host:
            return None
        return cls(host=host, port=int(os.environ.get("SMTP_PORT", "587")), user=os.environ.get("SMTP_USER", ""),
                   password=os.environ.get("SMTP_PASSWORD", ""),
                   sender=os.environ.get("SMTP_FROM", "") or os.environ.get("SMTP_USER", ""),
                   tls=os.environ.get("SMTP_TLS", "starttls").strip().lower())


def send(settings: SmtpSettings, *, to: list[str], subject: str, body: str,
         attachments: list[tuple[str, bytes]] = (), sender: str = "") -> None:
    """Send one plain-text email, with ``attachments`` as (file name, bytes) and ``sender`` instead of
    SMTP_FROM when given; a refusal becomes a readable UserError (the password is never shown)."""
    import tempfile
    from pathlib import Path

    import yagmail

    if not to:
        raise UserError("no recipient: add at least one email address")
    sender = sender or settings.sender or settings.user
    try:
        with tempfile.TemporaryDirectory(prefix="countinghouse-mail-") as tmp:
            files = []
            for name, data in attachments:  # yagmail names an attachment after its file
                path = Path(tmp) / Path(name).name
                path.write_bytes(data)
                files.append(str(path))
            # log in as SMTP_USER; the From header is the seller's sender (the server must allow it)
            client = yagmail.SMTP(user=settings.user or sender, password=settings.password or None,
                                  host=settings.host, port=settings.port, smtp_ssl=settings.tls == "ssl",
                                  smtp_starttls=settings.tls == "starttls", smtp_skip_login=not settings.user)
            try:
                client.send(to=to, subject=subject, contents=body, attachments=files or None,
                            headers={"From": sender})
            finally:
                client.close()
    except (OSError, Exception) as exc:  # smtplib errors, refused connections
        if isinstance(exc, UserError):
            raise
        raise UserError(f"the email to {', '.join(to)} could not be sent through {settings.host}:{settings.port}: "
                        f"{type(exc).__name__}") from None
