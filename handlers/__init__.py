"""Telegram handlers: one module per capability, each with ``register(application)``.

Group -3 drops an update delivered twice (``handlers.dedupe``); group -1 loads who is
writing (``handlers.account``); group 0 holds the capabilities; the fallback for anything
not understood is registered last in group 0.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    account,
    announcements,
    audit,
    broadcasts,
    coaching,
    dedupe,
    delivery_status,
    directory,
    errors,
    evaluations,
    fallback,
    help,
    hr_mutations,
    hr_recap,
    language,
    mutation_status,
    performance,
    profile,
    reachability,
    rotation,
    start,
    talent,
    team,
    trainings,
    uploads,
)


def register_all(application: Application) -> None:
    dedupe.register(application)  # first: the same update twice is handled once
    account.register(application)
    start.register(application)
    help.register(application)
    language.register(application)
    profile.register(application)
    directory.register(application)
    audit.register(application)
    reachability.register(application)
    uploads.register(application)
    trainings.register(application)
    hr_mutations.register(application)
    mutation_status.register(application)
    delivery_status.register(application)
    evaluations.register(application)
    coaching.register(application)
    performance.register(application)
    hr_recap.register(application)
    rotation.register(application)
    talent.register(application)
    team.register(application)
    announcements.register(application)
    broadcasts.register(application)
    errors.register(application)
    fallback.register(application)  # last: only what no capability took
