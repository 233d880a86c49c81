from collections.abc import Iterator

import pytest

from tests.notifications.receiver import Receiver


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A local endpoint; the service may call private addresses for it (tests only)."""
    settings.SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS = True
    with Receiver() as server:
        yield server
