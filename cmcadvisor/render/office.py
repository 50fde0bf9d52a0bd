"""Deterministic Office files: zip containers (DOCX, XLSX) rewritten with fixed entry dates.

Only rewrites bytes; it knows nothing about briefs or registers.
"""

from __future__ import annotations

import datetime
import io
import zipfile


def stable_zip(data: bytes, when: datetime.date) -> bytes:
    """The same zip with every entry stamped ``when`` (midnight), so identical content gives identical bytes."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
