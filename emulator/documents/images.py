"""Uploaded bytes -> what an image is (format, size, colour mode), or None when they are not an image.

Image analysis reads PNG and JPEG uploads. Pillow reads only the file's header here (``open`` is
lazy: no pixel is decoded, so a huge or hostile image costs no more than a small one), and
``verify`` walks the chunks of a PNG so that a truncated or corrupt file is not taken for one.
"""

from __future__ import annotations

import io
import logging
from typing import Any

log = logging.getLogger("emulator.images")

FORMATS = ("PNG", "JPEG")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def image_info(data: bytes) -> dict[str, Any] | None:
    """``{"format", "width", "height", "mode"}`` of a PNG or JPEG, else None."""
    if not data.startswith(_MAGIC):  # the cheap test first: most uploads are documents
        return None
    from PIL import Image, UnidentifiedImageError  # imported on first use: most emulators see no image

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            info = {"format": image.format, "width": image.width, "height": image.height, "mode": image.mode}
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        log.info("not a readable image: %r", exc)
        return None
    return info
