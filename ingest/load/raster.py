"""Page images from the bytes: PNG/JPEG/TIFF frames and rendered PDF pages, each checked against its limits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from ingest.load.limits import LoadError, LoadLimits, _check_ocr_pages, _check_pixels

IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "TIFF": "tiff"}


def open_image(data: bytes, limits: LoadLimits) -> Any:
    """Open an image lazily (nothing decoded) and refuse too many frames or too many pixels in any frame."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # Pillow's own bomb check, as a second line
    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LoadError(f"unreadable image ({exc.__class__.__name__})") from exc
    except Image.DecompressionBombError as exc:
        raise LoadError(f"{exc}; the limit is POLICYQA_MAX_IMAGE_PIXELS") from exc
    if img.format not in IMAGE_FORMATS:
        raise LoadError(f"{img.format} images are not supported (PNG, JPEG, TIFF)")
    frames = getattr(img, "n_frames", 1)
    _check_ocr_pages(frames, limits)
    for i in range(frames):
        img.seek(i)  # reads the frame's header only
        _check_pixels(img.width, img.height, f"image page {i + 1}" if frames > 1 else "image", limits)
    img.seek(0)
    return img


def image_pages(img: Any) -> Iterator[Any]:
    """Each frame decoded, in order, upright (a phone's EXIF orientation applied)."""
    from PIL import Image, ImageOps

    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        try:
            frame = ImageOps.exif_transpose(img.copy()) if i == 0 else img.copy()
            frame.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise LoadError(f"corrupt or truncated image (page {i + 1}: {exc.__class__.__name__}: "
                            f"{str(exc)[:80]})") from exc
        yield frame


def render_pdf_page(pdf: Any, index: int, limits: LoadLimits, dpi: int | None = None) -> Any:
    """One PDF page as an image at the OCR resolution, scaled down to fit the pixel limit."""
    page = pdf[index]
    width_pt, height_pt = page.get_size()
    scale = (dpi or limits.ocr_dpi) / 72
    pixels = width_pt * height_pt * scale * scale
    if pixels > limits.max_image_pixels:
        scale *= (limits.max_image_pixels / pixels) ** 0.5  # a huge page: fewer dots, never more memory
    if width_pt * scale < 1 or height_pt * scale < 1:
        raise LoadError(f"PDF page {index + 1} has no area")
    return page.render(scale=scale, grayscale=False).to_pil()


def open_pdfium(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise LoadError(f"corrupt PDF (pdfium: {str(exc)[:80]})") from exc
