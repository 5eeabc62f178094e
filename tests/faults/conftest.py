"""Fault tests use the end-to-end fixtures (the emulator, a live bot)."""

from tests.e2e.conftest import emulator, live_bot  # noqa: F401
