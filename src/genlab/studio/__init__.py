"""The genlab studio: a web UI (Gradio) over trained runs, generated from the pipelines' declarations.

``genlab studio --runs-dir runs`` serves it alone; :func:`mount` adds it to the app of ``genlab serve``.
:mod:`genlab.studio.forms` (widget specs and result views) imports no gradio; gradio is imported when the UI is
built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_studio", "mount"]


def build_studio(*args: Any, **kwargs: Any) -> Any:
    """See :func:`genlab.studio.app.build_studio`."""
    from genlab.studio.app import build_studio as build

    return build(*args, **kwargs)


def mount(*args: Any, **kwargs: Any) -> Any:
    """See :func:`genlab.studio.app.mount`."""
    from genlab.studio.app import mount as do_mount

    return do_mount(*args, **kwargs)
