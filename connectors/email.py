"""Email through yagmail over SMTP. Settings come from the environment (or .streamlit/secrets.toml via the app):
SMTP_HOST, SMTP_PORT (587), SMTP_USER, SMTP_PASSWORD, SMTP_FROM, SMTP_TLS (starttls | ssl | none).
A local server without TLS or login (the tests' aiosmtpd) is SMTP_TLS=none with no user."""
from __future__ import annotations

import mimetypes
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from html.parser import HTMLParser
from pathlib import Path

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


_MARKUP = re.compile(r"<(p|div|br|table|tr|td|a|h[1-6]|ul|ol|li|strong|em|b|i|span|html|body)\b", re.I)


class _Text(HTMLParser):
    """HTML to readable plain text: paragraphs and rows on their own lines, list items as "- ", a link as its text
    and its address in brackets; scripts and styles dropped."""

    BLOCK = {"p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs) -> None:  # noqa: ANN001
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append("  ")
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag) -> None:  # noqa: ANN001
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and not href.startswith(("#", "mailto:")):
                self.out.append(f" ({href})")

    def handle_data(self, data) -> None:  # noqa: ANN001
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def parts(body: str) -> tuple[str, str]:
    """The plain-text and HTML parts of an email body, which is either HTML (a template in HTML) or plain text."""
    if _MARKUP.search(body):
        return html_to_text(body), body
    return body, "<div>" + escape(body).replace("\n", "<br>\n") + "</div>"


def message(*, sender: str, to: list[str], subject: str, body: str,
            attachments: list[tuple[str, bytes]] = ()) -> EmailMessage:
    """One email: a plain-text part a text-only reader can read (no markup) and an HTML part, then the
    attachments."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=(sender.rsplit("@", 1)[-1].strip("> ") or None) if "@" in sender else None)
    text, html = parts(body)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=Path(name).name)
    return msg


def send(settings: SmtpSettings, *, to: list[str], subject: str, body: str,
         attachments: list[tuple[str, bytes]] = (), sender: str = "") -> None:
    """Send one email (a plain-text and an HTML part — :func:`message`), with ``attachments`` as (file name,
    bytes) and ``sender`` instead of SMTP_FROM when given; a refusal becomes a readable UserError (the password is
    never shown). yagmail makes the connection (TLS, login); the message is built here, because yagmail's own puts
    HTML line breaks into the plain-text part."""
    import yagmail

    if not to:
        raise UserError("no recipient: add at least one email address")
    sender = sender or settings.sender or settings.user
    msg = message(sender=sender, to=to, subject=subject, body=body, attachments=attachments)
    try:
        # log in as SMTP_USER; the From header is the seller's sender (the server must allow it)
        client = yagmail.SMTP(user=settings.user or sender, password=settings.password or None,
                              host=settings.host, port=settings.port, smtp_ssl=settings.tls == "ssl",
                              smtp_starttls=settings.tls == "starttls", smtp_skip_login=not settings.user)
        try:
            client.login()
            client.smtp.sendmail(settings.user or sender, to, msg.as_string())
        finally:
            client.close()
    except (OSError, Exception) as exc:  # smtplib errors, refused connections
        if isinstance(exc, UserError):
            raise
        raise UserError(f"the email to {', '.join(to)} could not be sent through {settings.host}:{settings.port}: "
                        f"{type(exc).__name__}") from None
