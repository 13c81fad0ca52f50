"""The Dockerfile's steps, checked without Docker: it installs what pyproject declares (never the sandbox extra),
runs the real command on the real health route, and `pip wheel .` (its install step) builds a wheel holding the
bot and its templates. The image itself is built only where a Docker daemon runs (see docs/DEPLOY.md)."""
import json
import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_installs_the_package_without_the_sandbox_extra():
    runs = [args for op, args in instructions() if op == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert installs == ["pip install ."], installs   # exactly pyproject's dependencies, no extras
    assert "sandbox" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert instructions()[0] == ("FROM", "python:3.11-slim")


def test_it_runs_as_a_user_with_the_database_on_the_data_volume():
    steps = instructions()
    user = [args for op, args in steps if op == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in steps
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "DRE_DB=/data/dre-bot.db" in env


def test_cmd_is_the_real_serve_command_on_a_public_bind():
    (cmd,) = [args for op, args in instructions() if op == "CMD"]
    shell = json.loads(cmd)[-1]   # the exec form: ["sh", "-c", "..."]
    words = shlex.split(shell.replace('"$PORT"', "3000"))
    assert words[:3] == ["exec", "dre-bot", "serve"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["dre-bot"] == "bot.cli:main"
    result = CliRunner().invoke(main, [*words[2:], "--help"])
    assert result.exit_code == 0, result.output   # every option the image passes exists
    assert "--host" in words and words[words.index("--host") + 1] == "0.0.0.0"
    assert words[words.index("--port") + 1] == "3000"


def test_healthcheck_asks_the_route_the_app_serves():
    (check,) = [args for op, args in instructions() if op == "HEALTHCHECK"]
    assert "/healthz" in check
    web = (ROOT / "bot" / "web.py").read_text()
    assert 'Route("/healthz"' in web


def test_pip_wheel_builds_the_bot_with_its_templates(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("dre_bot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/cli.py" in names and "bot/doctor.py" in names
    templates = [n for n in names if n.startswith("bot/templates/")]
    shipped = [p for p in (ROOT / "bot" / "templates").iterdir() if p.is_file()]
    assert shipped and len(templates) == len(shipped)
