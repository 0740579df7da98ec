"""Counters, gauges and histograms in the Prometheus text exposition format (version 0.0.4), for ``/metrics``."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels] + ([extra] if extra else [])
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class Metrics:
    """The server's metrics; every method is thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[str, tuple[tuple[float, ...], dict[Labels, list[float]]]] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self._help: dict[str, str] = {}

    def describe(self, name: str, text: str) -> None:
        self._help[name] = text

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, buckets: tuple[float, ...] = LATENCY_BUCKETS, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            bounds, series = self._histograms.setdefault(name, (buckets, {}))
            counts = series.setdefault(key, [0.0] * (len(bounds) + 2))  # buckets…, +Inf, sum
            counts[bisect.bisect_left(bounds, value)] += 1
            counts[-1] += value

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self._gauges[name] = read

    def counter_value(self, name: str, **labels: str) -> float:
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self._counters.items()):
                lines += self._head(name, "counter")
                lines += [f"{name}{_labels(k)} {_number(v)}" for k, v in sorted(series.items())]
            for name, (bounds, series) in sorted(self._histograms.items()):
                lines += self._head(name, "histogram")
                for key, counts in sorted(series.items()):
                    running = 0.0
                    for bound, c in zip((*bounds, float("inf")), counts[:-1], strict=True):
                        running += c
                        le = "+Inf" if bound == float("inf") else _number(bound)
                        bucket = _labels(key, 'le="' + le + '"')
                        lines.append(f"{name}_bucket{bucket} {_number(running)}")
                    lines.append(f"{name}_sum{_labels(key)} {_number(counts[-1])}")
                    lines.append(f"{name}_count{_labels(key)} {_number(running)}")
        for name, read in sorted(self._gauges.items()):
            lines += self._head(name, "gauge")
            lines.append(f"{name} {_number(read())}")
        return "\n".join(lines) + "\n"

    def _head(self, name: str, kind: str) -> list[str]:
        return ([f"# HELP {name} {self._help[name]}"] if name in self._help else []) + [f"# TYPE {name} {kind}"]
