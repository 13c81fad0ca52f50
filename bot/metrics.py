"""In-process counters and latency summaries, rendered in Prometheus text format for GET /metrics."""
from __future__ import annotations

import threading
from collections import defaultdict

_lock = threading.Lock()
_counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
_help: dict[str, str] = {}


def inc(name: str, help_text: str, amount: float = 1.0, **labels: str) -> None:
    with _lock:
        _help[name] = help_text
        _counters[(name, tuple(sorted(labels.items())))] += amount


def render(gauges: dict[str, tuple[str, float]]) -> str:
    """Counters, plus gauges given as name -> (help, value), as Prometheus exposition text."""
    lines = []
    with _lock:
        by_name: dict[str, list] = defaultdict(list)
        for (name, labels), value in _counters.items():
            by_name[name].append((labels, value))
        for name in sorted(by_name):
            lines += [f"# HELP {name} {_help[name]}", f"# TYPE {name} counter"]
            for labels, value in by_name[name]:
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")
    for name, (help_text, value) in sorted(gauges.items()):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """Integers in full (never 1.23457e+06), other values exactly."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
