"""At most ``EXPORT_MAX_CONCURRENT`` exports at once per worker process (:mod:`app.slots`)."""

from __future__ import annotations

from flask import Flask

from app.slots import Slots, install, slots_for

EXTENSION_KEY = "nextops.export_slots"


def install_slots(app: Flask) -> None:
    install(app, EXTENSION_KEY, Slots(app.config["EXPORT_MAX_CONCURRENT"], "exports", "too_many_exports"))


def export_slots() -> Slots:
    return slots_for(EXTENSION_KEY)
