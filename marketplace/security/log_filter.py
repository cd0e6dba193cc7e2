"""Defence in depth: mask anything that looks like an ID number or a mobile in log output.

Code must not log sensitive values in the first place (use :class:`Sensitive`); this filter
catches the slips. It works on the rendered message, the traceback and the stack text, not
on ``extra=`` attributes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from marketplace.security.identity import normalise_mobile
from marketplace.security.masking import mask_id_number, mask_mobile

__all__ = ["SensitiveDataFilter", "install_log_redaction", "redact_sensitive"]

_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")


def redact_sensitive(text: str) -> str:
    """``text`` with ID numbers and mainland mobiles replaced by their masks."""
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE.sub(lambda m: mask_mobile(normalise_mobile(m.group())), text)


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact_sensitive(arg)
    rendered = str(arg)
    redacted = redact_sensitive(rendered)
    return arg if redacted == rendered else redacted


class SensitiveDataFilter(logging.Filter):
    """Rewrites each record in place with the message already rendered and redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string: leave the error to logging, but redact the parts.
            record.msg = _redact_arg(record.msg)
            if isinstance(record.args, Mapping):
                record.args = {key: _redact_arg(value) for key, value in record.args.items()}
            elif record.args:
                record.args = tuple(_redact_arg(arg) for arg in record.args)
        else:
            record.msg = redact_sensitive(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_sensitive(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_sensitive(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redaction filter to every handler of ``logger`` (default: root); idempotent.

    Call it after logging is configured: handlers added later are not covered.
    """
    redaction = SensitiveDataFilter()
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, SensitiveDataFilter) for existing in handler.filters):
            handler.addFilter(redaction)
