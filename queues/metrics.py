"""Prometheus metrics: gauges per service line, read from the routers of this process.

The collector is registered once per process (on import) and asks every
running router for its statistics at each scrape, so the numbers are never
older than the scrape.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client import Metric

    from queues.router import Router


class QueueCollector(Collector):
    def __init__(self) -> None:
        self.routers: weakref.WeakSet[Router] = weakref.WeakSet()

    def collect(self) -> Iterator[Metric]:
        gauges = {
            "waiting": GaugeMetricFamily(
                "safecall_queue_waiting", "Tasks waiting in line.", labels=["line"]
            ),
            "longest": GaugeMetricFamily(
                "safecall_queue_longest_wait_seconds", "Longest current wait.", labels=["line"]
            ),
            "estimate": GaugeMetricFamily(
                "safecall_queue_estimated_wait_seconds",
                "Estimated wait for a new task (absent when nobody may answer).",
                labels=["line"],
            ),
            "alarm": GaugeMetricFamily(
                "safecall_queue_alarm",
                "1 when tasks wait and no officer who may answer is present.",
                labels=["line"],
            ),
            "officers": GaugeMetricFamily(
                "safecall_queue_officers",
                "Officers of the line by state.",
                labels=["line", "state"],
            ),
            "service_level": GaugeMetricFamily(
                "safecall_queue_service_level",
                "Share answered within the service-level threshold (in the window).",
                labels=["line"],
            ),
            "abandonment": GaugeMetricFamily(
                "safecall_queue_abandonment_rate",
                "Share abandoned (in the window).",
                labels=["line"],
            ),
            "average_wait": GaugeMetricFamily(
                "safecall_queue_average_wait_seconds",
                "Average wait of answered tasks (in the window).",
                labels=["line"],
            ),
        }
        for router in list(self.routers):
            for line in router.stats():
                labels = [line.line]
                gauges["waiting"].add_metric(labels, line.waiting)
                gauges["longest"].add_metric(labels, line.longest_wait)
                if line.estimated_wait is not None:
                    gauges["estimate"].add_metric(labels, line.estimated_wait)
                gauges["alarm"].add_metric(labels, 1.0 if line.alarm else 0.0)
                for state, count in line.officers.items():
                    gauges["officers"].add_metric([line.line, state], count)
                if line.service_level is not None:
                    gauges["service_level"].add_metric(labels, line.service_level)
                if line.abandonment_rate is not None:
                    gauges["abandonment"].add_metric(labels, line.abandonment_rate)
                if line.average_wait is not None:
                    gauges["average_wait"].add_metric(labels, line.average_wait)
        yield from gauges.values()


COLLECTOR = QueueCollector()
REGISTRY.register(COLLECTOR)


def watch(router: Router) -> None:
    COLLECTOR.routers.add(router)


def unwatch(router: Router) -> None:
    COLLECTOR.routers.discard(router)
