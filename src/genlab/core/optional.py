"""Optional dependencies: import one lazily, or tell the user which genlab extra installs it.

Everything outside the required core (DESIGN.md, "Dependencies") is imported at the point of
use through :func:`require`, so ``import genlab`` and ``genlab.load()`` stay fast and work
without the extras, and a missing package fails with the install command in the hint.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from genlab.core.errors import BadInputError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` (e.g. ``"sklearn.mixture"``), installed by the extra ``genlab[<extra>]``.

    ``purpose`` names what needs it (``"self-BLEU"``) and goes into the message. Raises
    :class:`~genlab.core.errors.BadInputError` with the hint ``pip install 'genlab[<extra>]'``
    when the module, or a package it imports, is missing.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing = e.name or module.split(".")[0]  # the package that is absent (perhaps one ``module`` imports)
        message = f"{purpose} needs {missing}, which is not installed" if purpose else f"{missing} is not installed"
        raise BadInputError(message, f"pip install 'genlab[{extra}]'") from None
