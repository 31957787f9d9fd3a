import pytest

from tests.helpers import run_tasks as _run_tasks


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture
def run_tasks():
    """Run every task that is ready, as the worker would; returns how many ran."""
    return _run_tasks
