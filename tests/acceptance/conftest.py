"""The acceptance tier: dre-bot as real `dre-bot serve` processes, for what only a process shows (kill -9, sandbox
mode as `make run` starts it, the command line's exit codes)."""
import pytest

from tests.conftest import ProcessBot


@pytest.fixture
def bot_kind() -> type[ProcessBot]:
    return ProcessBot
