"""``check``: connect to the relay step by step and say, in plain words, what works and what not.

Nothing is sent: the check resolves the host, connects, secures the connection, authenticates
and quits. Every adapter's check command calls :func:`check_relay`.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field

from ..config import RelayConfig
from ..errors import AcumbamailError, AuthenticationError
from .client import _SMTP, _SMTP_SSL, login
from .policy import local_hostname
from .reading import ReplyLimits
from .replies import AUTH_HINT


@dataclass(slots=True)
class CheckStep:
    """One step of the check: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class CheckReport:
    """The outcome of :func:`check_relay`; ``ok`` when every step passed."""

    config: RelayConfig
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.steps.append(CheckStep(name, ok, detail))
        return ok

    def render(self) -> str:
        """The report as lines of text for a terminal."""
        cfg = self.config
        lines = [f"Checking {cfg.host}:{cfg.port} (security: {cfg.security}, "
                 f"user: {cfg.username or 'none'})"]
        lines += [f"  [{'ok' if s.ok else 'FAILED'}] {s.name}: {s.detail}" for s in self.steps]
        lines.append("All good: the relay accepts this configuration." if self.ok
                     else "The relay cannot be used with this configuration (see above).")
        return "\n".join(lines)


def check_relay(config: RelayConfig) -> CheckReport:
    """Resolve, connect, secure, authenticate and quit; every step is reported, nothing is sent."""
    report = CheckReport(config)
    try:
        infos = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        report.add("resolve host", False, f"cannot resolve {config.host}: {exc}")
        return report
    report.add("resolve host", True, ", ".join(sorted({str(i[4][0]) for i in infos})))
    smtp: _SMTP | None = None
    limits = ReplyLimits.of(config)
    try:
        try:
            if config.security == "tls":
                smtp = _SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                 local_hostname=config.local_hostname or local_hostname(),
                                 context=config.create_ssl_context(), limits=limits)
            else:
                smtp = _SMTP(config.host, config.port, timeout=config.timeout,
                             local_hostname=config.local_hostname or local_hostname(), limits=limits)
        except ssl.SSLError as exc:
            report.add("connect with implicit TLS", False, f"TLS handshake failed: {exc}")
            return report
        except OSError as exc:
            report.add("connect", False, f"cannot connect to {config.host}:{config.port}: {exc}")
            return report
        code, _ = smtp.ehlo()
        report.add("connect", True, f"greeted; EHLO answered {code}")
        if config.security == "tls":
            report.add("implicit TLS", True, _tls_detail(smtp))
        elif config.security == "starttls":
            if not smtp.has_extn("starttls"):
                report.add("STARTTLS", False, "the relay does not offer STARTTLS on this port")
                return report
            try:
                smtp.starttls(context=config.create_ssl_context())
                smtp.ehlo()
            except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
                report.add("STARTTLS", False, f"TLS handshake failed: {exc}")
                return report
            report.add("STARTTLS", True, _tls_detail(smtp))
        else:
            report.add("encryption", config.allow_insecure or not config.username,
                       "none: the connection is not encrypted")
        if config.username and config.password:
            mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
            try:
                login(smtp, config)
            except AuthenticationError as exc:
                report.add("authenticate", False, f"refused ({exc.code} {exc.text}). {AUTH_HINT}")
                return report
            except (smtplib.SMTPException, AcumbamailError) as exc:
                report.add("authenticate", False, f"{exc}")
                return report
            report.add("authenticate", True, f"accepted as {config.username} "
                       f"(offered: {' '.join(mechanisms) or 'none listed'})")
        else:
            report.add("authenticate", True, "skipped: no username configured")
    except (smtplib.SMTPException, OSError, AcumbamailError) as exc:
        report.add("conversation", False, f"{type(exc).__name__}: {exc}")
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return report


def _tls_detail(smtp: smtplib.SMTP) -> str:
    sock = smtp.sock
    if isinstance(sock, ssl.SSLSocket):
        cipher = sock.cipher()
        return f"{sock.version()} ({cipher[0] if cipher else 'unknown cipher'}), certificate verified"
    return "encrypted"
