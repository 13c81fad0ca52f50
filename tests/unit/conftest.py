"""Fixtures the unit tests share."""
import pytest

from bot import store


@pytest.fixture
def conn(tmp_path):
    """A migrated state database of the test's own, as the store modules are given it."""
    path = str(tmp_path / "state.db")
    store.migrate(path)
    c = store.connect(path)
    yield c
    c.close()
