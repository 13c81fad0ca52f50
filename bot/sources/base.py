"""What every source module shares: the request it verifies, its errors, and auth helpers."""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

log = logging.getLogger("dre-bot.sources")

# Deeper than any sender nests (Monte Carlo's event lists are about 6 deep); deeper bodies are refused with a 400
# instead of exhausting the parser's stack.
MAX_DEPTH = 64
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as the source modules see it: no framework types, so they stay testable."""
    headers: Mapping[str, str]          # lower-case names
    query: Mapping[str, str]
    body: bytes
    client_host: str = ""
    path: str = ""


@dataclass(frozen=True)
class Secrets:
    """The secrets a source may check against; None where the operator set none."""
    webhook_token: str | None
    montecarlo_secret: str | None
    sandbox: bool
    pagerduty_secret: str | None = None


class AuthError(Exception):
    """The request did not prove it came from the sender (401)."""


class ShapeError(Exception):
    """Valid JSON of the wrong shape (422); names the field that is wrong."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two secrets."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def no_secret_configured(req: WebhookRequest, secrets: Secrets, name: str,
                         how: str = "on the bot and on the sender") -> None:
    """With no secret set, only loopback senders in sandbox mode get in; everyone else hears what to set."""
    if secrets.sandbox and is_loopback(req.client_host):
        return
    raise AuthError(f"{name} is not set, so this webhook cannot be authenticated: set it {how} "
                    "(only loopback senders are accepted in sandbox mode).")


def bearer_token(req: WebhookRequest) -> str | None:
    auth = req.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def basic_password(req: WebhookRequest) -> str | None:
    auth = req.headers.get("authorization", "")
    if auth[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def check_token(req: WebhookRequest, secrets: Secrets, *, allow_query: bool = False,
                allow_basic: bool = True, allow_bearer: bool = True) -> None:
    """Accept the shared DRE_WEBHOOK_TOKEN the ways this sender can send it."""
    if not secrets.webhook_token:
        no_secret_configured(req, secrets, "DRE_WEBHOOK_TOKEN")
        return
    offered = [
        allow_bearer and bearer_token(req),
        allow_basic and basic_password(req),
        allow_query and req.query.get("token"),
    ]
    # Compare every offer so timing does not tell which form was tried.
    results = [same(o, secrets.webhook_token) for o in offered if o]
    if not any(results):
        raise AuthError("Missing or wrong webhook credentials.")


class BadJSON(ValueError):
    """A body that is not JSON we will read (400)."""


def _depth_ok(doc: Any) -> bool:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def clean_text(text: str) -> str:
    """A lone surrogate (JSON allows `\\ud800`) cannot be stored as UTF-8: replace it with U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _clean(node: Any) -> Any:
    if isinstance(node, str):
        return clean_text(node)
    if isinstance(node, dict):
        return {clean_text(k): _clean(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def parse_json(body: bytes) -> Any:
    """The body as JSON, nested at most MAX_DEPTH deep, with lone surrogates replaced; BadJSON otherwise."""
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise BadJSON(f"it is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJSON(str(exc)) from None
    if not _depth_ok(doc):
        raise BadJSON(f"it is nested deeper than {MAX_DEPTH} levels")
    # In UTF-8, a lone surrogate can only come from an escape \uD800-\uDFFF or from the bytes ED A0..BF (which json
    # decodes with surrogatepass): without either, the walk that replaces them is skipped. It was three quarters
    # of the time of a parse, and the request path parses every webhook.
    if isinstance(body, bytes) and json.detect_encoding(body) == "utf-8" and b"\xed" not in body \
            and not _SURROGATE_ESCAPE.search(body):
        return doc
    return _clean(doc)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def require_mapping(doc: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(doc, dict):
        raise ShapeError(name, "must be a JSON object")
    return doc


# Times outside these years are a sender's bug; they are dropped with a warning rather than losing the alert.
_EARLIEST, _LATEST = datetime(1970, 1, 2, tzinfo=timezone.utc).timestamp(), \
    datetime(9999, 1, 1, tzinfo=timezone.utc).timestamp()


def epoch_to_iso(value: Any) -> str | None:
    """Cloud Monitoring sends seconds since the epoch; 0 or null means none, and an impossible time is dropped."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        if not math.isfinite(value) or not _EARLIEST <= value < _LATEST:
            log.warning("dropped an impossible time %.40s", value)
            return None
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
    if isinstance(value, str) and value.strip():
        try:
            return epoch_to_iso(float(value))
        except (ValueError, OverflowError):
            return iso_time(value)
    return None


def iso_time(value: Any) -> str | None:
    """An ISO 8601 time a sender wrote, kept only if it reads as one; anything else is dropped with a warning."""
    from bot.alert import parse_time
    if not isinstance(value, str) or not value.strip():
        return None
    if parse_time(value) is None:
        log.warning("dropped an unreadable time %.40r", value)
        return None
    return value


def str_labels(mapping: Any) -> dict[str, str]:
    """Label maps as strings only; senders sometimes send numbers or nulls."""
    if not isinstance(mapping, dict):
        return {}
    return {clean_text(str(k)): clean_text(str(v))[:MAX_LABEL] for k, v in mapping.items()
            if v is not None and not isinstance(v, (dict, list))}


MAX_LABEL = 2000   # a label value longer than this is a sender's bug; clamped rather than losing the alert
