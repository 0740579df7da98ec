import json
import sys

import pytest

from genlab.core.errors import BadInputError
from genlab.core.optional import require


def test_an_installed_module_is_returned():
    assert require("json", "text") is json
    assert require("os.path", "text") is sys.modules["os.path"]


def test_a_missing_module_names_the_extra_to_install():
    with pytest.raises(BadInputError) as err:
        require("genlab_no_such_package.sub", "image", "the builtin:digits dataset")
    assert err.value.message == "the builtin:digits dataset needs genlab_no_such_package, which is not installed"
    assert err.value.hint == "pip install 'genlab[image]'"
    assert err.value.exit_code == 2


def test_without_a_purpose_the_message_names_the_package():
    with pytest.raises(BadInputError) as err:
        require("genlab_no_such_package", "text-embed")
    assert err.value.message == "genlab_no_such_package is not installed"
    assert err.value.hint == "pip install 'genlab[text-embed]'"


def test_a_missing_dependency_of_an_installed_module_is_named(tmp_path, monkeypatch):
    (tmp_path / "genlab_wrapper_pkg.py").write_text("import genlab_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadInputError) as err:
        require("genlab_wrapper_pkg", "image", "image/gmm")
    assert err.value.message == "image/gmm needs genlab_absent_dependency, which is not installed"
