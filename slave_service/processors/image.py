"""Image processor: any accepted image in, a grayscale PNG out.

Colour is turned to gray by ITU-R 601-2 luma (Pillow's ``convert("L")``) after the
EXIF orientation is applied. Transparency is kept (the PNG is then "LA"), 16-bit and
float images are scaled to the full 8-bit range, and animated GIF, PNG and WebP files
become animated PNGs with every frame, its duration and the loop count kept.

Limits: a multi-page TIFF or multi-picture JPEG (MPO) gives its first page only.
Colour profiles (ICC) are ignored, so CMYK is converted by Pillow's plain formula.
Images over limits.MAX_IMAGE_PIXELS (env MAX_IMAGE_PIXELS), and animations whose
frames add up to more than MAX_ANIMATION_PIXELS (twice that), are refused.
"""

import io

import numpy as np
from PIL import Image, ImageSequence

from slave_service.errors import ProcessingError
from slave_service.processors.imaging import (
    decoding_as_processing_errors,
    open_image,
    upright,
)
from slave_service.processors.limits import MAX_IMAGE_PIXELS

PNG_COMPRESS_LEVEL = 1
"""zlib level of the output PNG.

On a 2 MP photo-like gray image level 1 took 35-50 ms and level 6 took 155-200 ms,
while level 6 saved only 15-20 % of the bytes, so level 1 is kept for throughput.
"""

MAX_ANIMATION_PIXELS = 2 * MAX_IMAGE_PIXELS
"""Largest sum of all frames' pixels accepted in an animation."""

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")
"""Formats whose extra frames are an animation rather than separate pages."""

SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
SIXTEEN_BIT_MAX = 65535


def scaled_to_8_bit(values: np.ndarray) -> Image.Image:
    """An "L" image of values stretched from their own minimum..maximum to 0..255."""
    finite = np.isfinite(values)
    if not finite.any():
        return Image.fromarray(np.zeros(values.shape, dtype=np.uint8))
    values = np.where(finite, values, np.nan).astype(np.float64)
    low, high = np.nanmin(values), np.nanmax(values)
    span = (high - low) or 1.0
    scaled = np.nan_to_num((values - low) * 255.0 / span, nan=0.0)
    return Image.fromarray(np.rint(scaled).astype(np.uint8))


def sixteen_bit_to_gray(values: np.ndarray) -> Image.Image:
    """An "L" image of 0..65535 values divided by 257 and rounded."""
    wide = values.astype(np.uint32)
    return Image.fromarray(((wide + 128) // 257).astype(np.uint8))


def numeric_to_gray(image: Image.Image) -> Image.Image:
    """Gray version of a 16-bit, 32-bit integer or float single-channel image."""
    values = np.asarray(image)
    if image.mode in SIXTEEN_BIT_MODES:
        return sixteen_bit_to_gray(values)
    if image.mode == "I" and values.min() >= 0 and values.max() <= SIXTEEN_BIT_MAX:
        return sixteen_bit_to_gray(values)
    if image.mode == "F" and values.min() >= 0.0 and values.max() <= 1.0:
        return Image.fromarray(np.rint(values * 255.0).astype(np.uint8))
    return scaled_to_8_bit(values)


def to_gray(image: Image.Image) -> Image.Image:
    """The image as "L", or "LA" when it has transparency."""
    mode = image.mode
    if mode == "LA" or (mode == "L" and "transparency" not in image.info):
        return image
    if mode in SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return numeric_to_gray(image)
    if mode == "La":
        return image.convert("LA")

    try:
        if image.has_transparency_data:
            return image.convert("RGBA").convert("LA")
        if mode in ("1", "P", "RGB"):
            return image.convert("L")
        return image.convert("RGB").convert("L")
    except ValueError:
        raise ProcessingError(
            f"the image's colour mode {mode!r} cannot be converted to grayscale"
        ) from None


def encode_png(frames: list[Image.Image], durations: list[int], loop: int) -> bytes:
    """PNG bytes of one frame, or an animated PNG of several."""
    if any(frame.mode == "LA" for frame in frames):
        frames = [frame.convert("LA") for frame in frames]
    output = io.BytesIO()
    if len(frames) == 1:
        frames[0].save(output, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        frames[0].save(
            output,
            "PNG",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=loop,
            compress_level=PNG_COMPRESS_LEVEL,
        )
    return output.getvalue()


def gray_frames(image: Image.Image) -> tuple[list[Image.Image], list[int]]:
    """Every composited frame of an animation, upright and gray, with its duration."""
    width, height = image.size
    if image.n_frames * width * height > MAX_ANIMATION_PIXELS:
        raise ProcessingError(
            f"the animation is too large: {image.n_frames} frames of {width}x{height} "
            f"exceed the limit of {MAX_ANIMATION_PIXELS} pixels in all (twice "
            "MAX_IMAGE_PIXELS)"
        )

    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        gray = to_gray(upright(frame))
        # The iterator reuses one image, so keep a copy of frames it hands back as is.
        frames.append(gray.copy() if gray is frame else gray)
        durations.append(int(frame.info.get("duration", 0)))
    return frames, durations


def process(data: bytes, filename: str) -> bytes:
    """A grayscale PNG of the image in ``data``."""
    image = open_image(data, filename)

    with decoding_as_processing_errors():
        if image.format in ANIMATED_FORMATS and getattr(image, "n_frames", 1) > 1:
            # Without a loop count a GIF plays once; the PNG default would loop forever.
            loop = int(image.info.get("loop", 1))
            frames, durations = gray_frames(image)
        else:
            frames, durations, loop = [to_gray(upright(image))], [], 0
        return encode_png(frames, durations, loop)
