"""``python -m cmcadvisor``: the same as the ``cmcadvisor`` command."""

from __future__ import annotations

from cmcadvisor.cli import main

main()
