"""E-mail notify (issue 21): one message to an SMTP server through the URL guard (``smtp://host:port`` or
``smtps://``: its scheme, host, port and every address the host resolves to are checked like an HTTP target's, and
the connection goes to the checked address), sent with the standard library's ``smtplib`` in a thread.

The subject and text are rendered as plain text; the subject's line breaks become spaces (no header can be
injected), the addresses are the rule file's own (validated in ``rules.action_schema``). The credentials are secret
references, resolved at run time and never shown: the audit's copy names the variable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from rules.action_schema import NotifyConfig
from rules.schema import Action

from actions.executor import Attempt, Prepared
from actions.model import Outcome
from actions.templates import Renderer, Secrets
from actions.urlguard import UrlPolicy, UrlRefused


class EmailExecutor:
    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        assert isinstance(config, NotifyConfig) and isinstance(config.url, str)
        subject = " ".join(renderer.render(config.subject, ctx, "text").split())[:998]
        text = renderer.render(config.text, ctx, "text")
        real: dict[str, Any] = {
            "channel": "email", "url": config.url, "to": list(config.to), "sender": config.sender,
            "subject": subject, "text": text, "starttls": config.starttls,
            "username": secrets.resolve(config.username) if config.username else None,
            "password": secrets.resolve(config.password) if config.password else None,
        }
        shown = real | {"username": f"<secret:{config.username.secret_env}>" if config.username else None,
                        "password": f"<secret:{config.password.secret_env}>" if config.password else None}
        return Prepared(real, shown, config.timeout)

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        r = prepared.real
        try:
            host, port = self.policy.check_url(r["url"])
            address = await self._checked_address(host, port)
        except UrlRefused as exc:
            return Outcome(False, f"refused by the URL guard: {exc}")
        except OSError as exc:
            return Outcome(False, f"cannot resolve {exc}", retryable=True)
        message = EmailMessage()
        message["From"] = r["sender"]
        message["To"] = ", ".join(r["to"])
        message["Subject"] = r["subject"]
        message["X-Stormwatch-Run"] = attempt.run_id
        message.set_content(r["text"])
        try:
            refused = await asyncio.to_thread(self._send, r, host, address, port, message, prepared.timeout)
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            said = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            return Outcome(False, f"SMTP {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500,
                           output={"code": exc.smtp_code, "response": said[:500]})
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(False, f"SMTP failed: {type(exc).__name__}", retryable=True)
        if refused:
            return Outcome(False, f"recipients refused: {', '.join(sorted(refused))}",
                           output={"refused": sorted(refused)})
        return Outcome(True, f"sent to {len(r['to'])} recipient(s)", output={"to": r["to"]})

    async def _checked_address(self, host: str, port: int) -> str:
        """The address to connect to: the host's, every one of them allowed by the guard (no rebinding after)."""
        try:
            return str(ipaddress.ip_address(host))  # already checked by check_url
        except ValueError:
            pass
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        for a in addresses:
            self.policy.check_address(ipaddress.ip_address(a))
        return addresses[0]

    @staticmethod
    def _send(r: Mapping[str, Any], host: str, address: str, port: int, message: EmailMessage,
              timeout: float) -> dict[str, Any]:
        context = ssl.create_default_context()
        tls = urlsplit(r["url"]).scheme == "smtps"
        client: smtplib.SMTP = (smtplib.SMTP_SSL(timeout=timeout, context=context) if tls
                                else smtplib.SMTP(timeout=timeout))
        try:
            client._host = host  # type: ignore[attr-defined]  # TLS verifies the name, not the checked address
            client.connect(address, port)
            client.ehlo_or_helo_if_needed()
            if r["starttls"] and not tls:
                client.starttls(context=context)
                client.ehlo()
            if r["username"]:
                client.login(r["username"], r["password"])
            return dict(client.send_message(message, from_addr=r["sender"], to_addrs=r["to"]))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class NotifyExecutor:
    """``notify`` by channel: e-mail through ``EmailExecutor``, the rest over HTTP."""

    def __init__(self, http: Any, email: EmailExecutor) -> None:
        self.http = http
        self.email = email

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        if isinstance(config, NotifyConfig) and config.channel == "email":
            return self.email.prepare(action, ctx, renderer, secrets)
        return self.http.prepare(action, ctx, renderer, secrets)

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        if prepared.real.get("channel") == "email":
            return await self.email.run(prepared, attempt)
        return await self.http.run(prepared, attempt)
