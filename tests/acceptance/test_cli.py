"""The `dre-bot` command line as a process: exit codes and messages, as a person or CI meets them."""
import subprocess
import sys
from pathlib import Path

import pytest

from bot.diagnostics.catalog import CatalogError, parse

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_runbooks_pass_the_check_command():
    out = subprocess.run([sys.executable, "-m", "bot.cli", "runbooks", "check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "9 runbooks" in out.stdout


def test_a_write_query_in_the_catalog_fails_the_check(tmp_path):
    bad = tmp_path / "wipe.sql"
    bad.write_text("/*---\nname: wipe\ndescription: x\nmax_rows: 1\n---*/\nDELETE FROM `@table` WHERE true\n")
    with pytest.raises(CatalogError, match="DELETE"):
        parse(bad)
    runbooks = tmp_path / "runbooks"
    (runbooks / "queries").mkdir(parents=True)
    (runbooks / "queries" / "wipe.sql").write_text(bad.read_text())
    (tmp_path / "dre-bot.toml").write_text('[runbooks]\ndir = "runbooks"\n')
    out = subprocess.run([sys.executable, "-m", "bot.cli", "runbooks", "check"], cwd=tmp_path, capture_output=True,
                         text=True, env={"PATH": "", "PYTHONPATH": str(ROOT), "DRE_DB": str(tmp_path / "x.db")})
    assert out.returncode != 0 and "is a DELETE, not a read" in out.stderr
