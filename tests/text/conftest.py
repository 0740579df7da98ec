import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny text models gain nothing from intra-op threads, and on a busy machine they cost a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
