"""Every registered model runs the shared model test suite of :mod:`tests.model_mixin`.

The test modules are imported here explicitly, so the check does not depend on which
modules pytest collected, or in which order.
"""

import importlib
from pathlib import Path

import pytest

from genlab.core.registry import MODELS
from tests.model_mixin import ModelTesterMixin

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def skipped_modules() -> list[str]:
    """Import every ``test_*.py`` module under tests/; return the names of those that skip themselves."""
    skipped = []
    for path in sorted(TESTS.rglob("test_*.py")):
        name = ".".join(
            path.relative_to(TESTS.parent).with_suffix("").parts
        )  # tests/image/test_gan.py -> tests.image.test_gan
        try:
            importlib.import_module(name)
        except pytest.skip.Exception:  # a module-level importorskip: an optional dependency is missing
            skipped.append(name)
    return skipped


def model_test_classes() -> set[type]:
    """The ``Test…`` classes in ``test_*`` modules that inherit :class:`ModelTesterMixin` (pytest collects these)."""
    found, todo = set(), list(ModelTesterMixin.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        module = cls.__module__.rpartition(".")[2]
        if cls.__name__.startswith("Test") and module.startswith("test_") and hasattr(cls, "model_name"):
            found.add(cls)
    return found


def shipped_models() -> list[str]:
    """Registered model names, less the stand-ins that test modules register for themselves."""
    return [name for name, cls in MODELS.items() if not cls.__module__.startswith(f"{TESTS.name}.")]


def test_every_registered_model_has_a_model_test_class(skipped_modules):
    tested = {cls.model_name for cls in model_test_classes()}
    missing = [name for name in shipped_models() if name not in tested]
    assert not missing, (
        f"registered model(s) without a test class inheriting ModelTesterMixin: {', '.join(missing)}. "
        "Add a Test… class with model_name and a tiny config to tests/<modality>/test_<family>.py, inheriting "
        "the modality's mixin (tests/image/model_mixin.py, tests/text/model_mixin.py, or a new one derived from "
        "tests/model_mixin.py)."
        + (f" Modules skipped on this machine: {', '.join(skipped_modules)}." if skipped_modules else "")
    )


def test_every_model_test_class_names_a_registered_model(skipped_modules):
    unknown = sorted(
        f"{cls.__module__}.{cls.__name__} tests '{cls.model_name}'"
        for cls in model_test_classes()
        if cls.model_name not in MODELS
    )
    assert not unknown, f"model test classes naming no registered model: {'; '.join(unknown)}"
