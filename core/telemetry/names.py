"""The names this library records under: the instrumentation scope, and the attributes and
metrics that more than one module of :mod:`acumbamail_smtp.telemetry` writes."""

SCOPE = "acumbamail_smtp"
VERSION = "0.1.0"
#: The send span's name (one per message, pipelined or not).
SEND_SPAN = "acumbamail_smtp.send"
CATEGORY = "acumbamail_smtp.category"
SENT = "acumbamail_smtp.messages.sent"
REFUSED = "acumbamail_smtp.messages.refused"
SUPPRESSED = "acumbamail_smtp.messages.suppressed"
