"""PII redaction, before anything reaches Slack: whole columns by name pattern or BigQuery policy tag, and values
that look like personal data (emails, phone numbers, IP addresses, card and social security numbers) anywhere."""
from __future__ import annotations

import re
from typing import Any, Iterable

# Column names that hold personal data (matched on words of the name, e.g. customer_email, PhoneNumber).
PII_COLUMN = re.compile(
    r"(^|_)(e_?mail|phone|mobile|msisdn|ssn|social_security|full_?name|first_?name|last_?name|surname|"
    r"given_?name|address|street|postcode|zip(_?code)?|ip(_?addr(ess)?)?|date_of_birth|dob|birth_?date|"
    r"passport|national_id|tax_id|iban|card_?number|credit_?card|cc_num|password|secret|token)(_|$)")
_PATTERNS = [
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    ("card number", re.compile(r"\b(?:\d[ \-]?){13,19}\b")),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("phone", re.compile(r"(?<![\w.])\+?\d[\d \-().]{7,}\d(?![\w.])")),
    ("ip address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b")),
]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def is_pii_column(name: str, policy_tags: Iterable[str] = ()) -> bool:
    return bool(list(policy_tags)) or bool(PII_COLUMN.search(_snake(name)))


def redact_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    out = value
    for label, pattern in _PATTERNS:
        out = pattern.sub(f"[{label} redacted]", out)
    return out


def redact_rows(columns: list[str], rows: list[list[Any]], pii_columns: set[str],
                all_values: bool = False) -> tuple[list[list[Any]], list[str]]:
    """Rows with PII columns blanked and PII-looking values replaced; and the columns that were withheld.

    all_values: the result's values come from a PII column (e.g. the top values of `email`): withhold every
    string value, not only the ones that look like personal data."""
    withheld = [c for c in columns if c in pii_columns or is_pii_column(c)]
    out = []
    for row in rows:
        new = []
        for column, value in zip(columns, row):
            if column in withheld or (all_values and isinstance(value, str)):
                new.append("[redacted]" if value is not None else None)
            else:
                new.append(redact_value(value))
        out.append(new)
    return out, withheld
