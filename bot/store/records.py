"""The base of the store's typed records: frozen dataclasses read from a row by column name."""
from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any, Iterator, TypeVar

R = TypeVar("R", bound="Record")


@dataclasses.dataclass(frozen=True)
class Record:
    """A row as a frozen dataclass. It also answers `record["column"]` and `dict(record)`, because code that
    read sqlite3.Row by column (message builders, handlers keyed by a column name) keeps working unchanged."""

    @classmethod
    def of(cls: type[R], row: sqlite3.Row) -> R:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    @classmethod
    def maybe(cls: type[R], row: sqlite3.Row | None) -> R | None:
        return None if row is None else cls.of(row)

    @classmethod
    def all(cls: type[R], rows: Iterator[sqlite3.Row] | list[sqlite3.Row]) -> list[R]:
        return [cls.of(r) for r in rows]

    def __getitem__(self, column: str) -> Any:
        try:
            return getattr(self, column)
        except AttributeError:
            raise KeyError(column) from None

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]
