"""Images of the stack's real components (Prometheus, Alertmanager, the operator, ...), built from
the Go module proxy at the versions the pinned charts render, named as the charts name them."""

from __future__ import annotations

from .images import ImageSpec


def specs() -> list[ImageSpec]:
    return []
