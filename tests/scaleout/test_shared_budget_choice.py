"""When sends book the rate shared by every process (``bot.delivery.uses_shared_budget``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.delivery import uses_shared_budget


def engine(dialect: str) -> SimpleNamespace:
    return SimpleNamespace(dialect=SimpleNamespace(name=dialect))


@pytest.mark.parametrize(
    ("dialect", "chosen", "several", "shared"),
    [
        ("postgresql", None, True, True),  # webhook mode, the stand-alone sender
        ("postgresql", None, False, False),  # a polling bot: the only process
        ("postgresql", True, False, True),  # a polling bot beside stand-alone senders
        ("postgresql", False, True, False),
        ("sqlite", True, True, False),  # one process by design
        ("sqlite", None, True, False),
    ],
)
def test_choice(dialect: str, chosen: bool | None, several: bool, shared: bool) -> None:
    settings = SimpleNamespace(shared_send_budget=chosen)
    assert uses_shared_budget(settings, engine(dialect), several=several) is shared
    assert uses_shared_budget(settings, None, several=several) is False
