"""Jinja2 templates for messages and reports: bot/templates/, each overridable by a file of the same name in
the team's `[templates] dir`. They run in a SandboxedEnvironment with StrictUndefined, so a template typo is a
clear error naming the variable, and a team's template cannot reach into the bot.

Values bound for Slack are escaped for mrkdwn by the caller before rendering (alert text is untrusted); a
template's own text is trusted."""
from __future__ import annotations

import logging
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.durations import format_duration

log = logging.getLogger("dre-bot.templates")

BUILT_IN = Path(__file__).resolve().parent / "templates"


class TemplateProblem(Exception):
    """A template that does not load or render; the message names the template and what is wrong."""


def environment(team_dir: str = "") -> SandboxedEnvironment:
    loaders = [FileSystemLoader(team_dir)] if team_dir else []
    env = SandboxedEnvironment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(BUILT_IN))]),
                               undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)
    env.filters["duration"] = lambda seconds: "–" if seconds is None else format_duration(seconds)
    return env


def render(name: str, context: dict, team_dir: str = "") -> str:
    try:
        return environment(team_dir).get_template(name).render(**context)
    except TemplateError as exc:
        where = f"{team_dir}/{name}" if team_dir and (Path(team_dir) / name).exists() else f"bot/templates/{name}"
        raise TemplateProblem(f"Template {where} failed: {type(exc).__name__}: {exc}") from exc


def render_or_built_in(name: str, context: dict, team_dir: str = "", *, escape) -> str:
    """The team's template; when it fails to render, the built-in one, headed by a line saying what failed (made
    safe by `escape`, the output format's own), so a handoff or a report is never lost to a template typo."""
    try:
        return render(name, context, team_dir)
    except TemplateProblem as exc:
        if not team_dir:
            raise
        log.error("%s; using the built-in template", exc)
        return (f":warning: {escape(str(exc))[:500]}. This is the built-in template; fix yours in "
                f"`[templates] dir`.\n" + render(name, context))


def check(team_dir: str) -> list[str]:
    """Each of the team's templates that does not compile, with why: checked at start, so a typo is found then
    and not at the next shift change."""
    problems = []
    env = environment(team_dir)
    for path in sorted(Path(team_dir).glob("*.j2")) if team_dir else []:
        try:
            env.get_template(path.name)
        except TemplateError as exc:
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
        if not (BUILT_IN / path.name).exists():
            problems.append(f"{path}: no built-in template has this name, so nothing uses it; built-in: "
                            f"{', '.join(sorted(p.name for p in BUILT_IN.glob('*.j2')))}")
    return problems
