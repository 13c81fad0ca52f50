"""SQL lives in bot/store/: a scan of every other module for `.execute(` calls and SQL statement strings.

NOT_YET lists the modules that still run SQL of their own and how many statements each has left, so the next
person sees what is left to move. A module that gains SQL fails; so does one that lost some while its entry
still says otherwise (lower the number, or drop the entry when it reaches zero)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"

# Uppercase keywords, as every query here is written; prose such as "Update the card" does not match.
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|"
                 r"\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX|VIEW)\b")
EXECUTE = {"execute", "executemany", "executescript"}

# Empty: all the SQL is in bot/store/. A module that needs a query gets a store function, not an entry here.
NOT_YET: dict[str, int] = {}


def statements(path: Path) -> set[int]:
    """Line numbers of the module's SQL: execute calls and string literals that hold a statement."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE:
            lines.add(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            lines.add(node.lineno)
    return lines


def found() -> dict[str, int]:
    counts = {}
    for path in sorted(BOT.rglob("*.py")):
        name = path.relative_to(BOT).as_posix()
        if name.startswith("store/"):
            continue
        n = len(statements(path))
        if n:
            counts[name] = n
    return counts


def test_the_scan_sees_sql_when_it_is_there(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('conn.execute("SELECT 1")\nq = ("INSERT OR IGNORE INTO t (a) "\n     "VALUES (?)")\n'
                      'x = "Update the card when the status changes"\nu = f"UPDATE handoffs SET {c} = ?"\n')
    assert statements(module) == {1, 2, 5}


def test_no_module_outside_the_store_gains_sql():
    new = {name: n for name, n in found().items() if n > NOT_YET.get(name, 0)}
    assert not new, (f"SQL outside bot/store/: {new}. Add a function to the store module of that aggregate "
                     "(bot/store/<aggregate>.py) and call it instead.")


def test_the_list_of_what_is_left_is_up_to_date():
    counts = found()
    stale = {name: (n, counts.get(name, 0)) for name, n in NOT_YET.items() if counts.get(name, 0) < n}
    assert not stale, (f"Less SQL left than NOT_YET says (listed, found): {stale}. "
                       "Lower the numbers, or drop the entries that reached zero.")
