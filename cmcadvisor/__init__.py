"""cmcadvisor: CMC regulatory strategy for cell and gene therapy programs, from a program file.

The package turns a program file into an assessment (pathways, findings, questions, audit
trail) with a forward-chaining rule engine over rules kept as data. Import :mod:`cmcadvisor.api`
for the library entry points; this module only holds the version.
"""

from __future__ import annotations

__version__ = "0.1.0"
