"""The generic webhook, for anything that can POST JSON:
`{"title","severity","status":"firing|resolved","dedup_key","labels":{},"summary","links":[]}`.
"""
from __future__ import annotations

from typing import Any

from bot.alert import FIRING, RESOLVED, Alert, Link, kind_from_text, label_fingerprint, severity_from, split_table
from bot.sources.base import (Secrets, ShapeError, WebhookRequest, check_token, clean_text, iso_time, require_mapping,
                              str_labels)

NAME = "generic"


def verify(req: WebhookRequest, secrets: Secrets) -> None:
    check_token(req, secrets, allow_basic=False, allow_bearer=True)


def check(doc: Any) -> None:
    doc = require_mapping(doc, "body")
    if not isinstance(doc.get("title"), str) or not doc["title"].strip():
        raise ShapeError("title", "is required and must be a non-empty string")
    if doc.get("status", FIRING) not in (FIRING, RESOLVED):
        raise ShapeError("status", "must be firing or resolved")
    for key in ("dedup_key", "summary", "severity"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ShapeError(key, "must be a string")
    if doc.get("labels") is not None and not isinstance(doc["labels"], dict):
        raise ShapeError("labels", "must be an object of label names to values")
    links = doc.get("links")
    if links is not None:
        if not isinstance(links, list):
            raise ShapeError("links", 'must be a list of {"text", "url"} objects or URL strings')
        for i, link in enumerate(links):
            if not isinstance(link, str) and not (isinstance(link, dict) and isinstance(link.get("url"), str)):
                raise ShapeError(f"links[{i}]", 'must be a URL string or {"text", "url"}')


def parse(doc: Any) -> list[Alert]:
    check(doc)
    labels = str_labels(doc.get("labels"))
    if "table" in labels:
        for key, value in split_table(labels["table"]).items():
            labels.setdefault(key, value)
    labels.setdefault("policy", doc["title"])
    links = []
    for link in doc.get("links") or ():
        if isinstance(link, str):
            links.append(Link(link, link))
        else:
            links.append(Link(str(link.get("text") or link["url"]), link["url"]))
    dedup = clean_text(doc.get("dedup_key") or label_fingerprint({**labels, "title": doc["title"]}))[:200]
    return [Alert(
        source=NAME,
        fingerprint=f"generic:{dedup}",
        status=doc.get("status", FIRING),
        title=doc["title"].strip()[:200],
        severity=severity_from(doc.get("severity")),
        kind=kind_from_text(doc["title"], explicit=labels.get("kind") or doc.get("kind")),
        summary=doc.get("summary") or "",
        labels=labels,
        links=tuple(links),
        started_at=iso_time(doc.get("started_at")),
        ended_at=iso_time(doc.get("ended_at")),
        raw=doc,
    )]
