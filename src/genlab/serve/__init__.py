"""The REST API: every trained run's pipelines over HTTP (``genlab serve``).

Generic by construction: the endpoints, request schemas and media types come from the registered pipelines'
declarations (:class:`genlab.core.pipeline.Request` fields and :class:`~genlab.core.pipeline.Output` formats),
so a new modality is served without an edit here.

>>> from genlab.serve import ServeSettings, create_app
>>> app = create_app(ServeSettings(paths=["runs"]))   # an ASGI app: uvicorn, or FastAPI's TestClient

Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart).
"""

from __future__ import annotations

from genlab.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def create_app(settings: ServeSettings | None = None, **kwargs):
    """The FastAPI application for ``settings`` (see :func:`genlab.serve.app.create_app`)."""
    from genlab.core.optional import require

    require("fastapi", "serve", "genlab serve")
    require("python_multipart", "serve", "uploads to genlab serve")
    from genlab.serve.app import create_app as build

    return build(settings, **kwargs)
