import pytest

from genlab.core.devices import cpu_threads


@pytest.fixture(autouse=True)
def one_thread():
    """The style tests run tiny networks on tiny images, where torch's threads cost more in synchronisation
    than they save (many times more on a busy machine): one thread, restored afterwards."""
    with cpu_threads(1):
        yield
