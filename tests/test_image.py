"""Tests of the image processor on the corpus images and small made-up images."""

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

from slave_service.errors import ProcessingError
from slave_service.processors import image, imaging

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GOOD_IMAGES = [
    "16bit.cropped.tif",
    "dispose_bgnd.gif",
    "flower.jpg",
    "hopper.bmp",
    "hopper.gif",
    "hopper.jpg",
    "hopper.png",
    "hopper.tif",
    "hopper.webp",
    "hopper_orientation_6.jpg",
    "pil_sample_cmyk.jpg",
]


def encode(picture: Image.Image, format_name: str, **options) -> bytes:
    output = io.BytesIO()
    picture.save(output, format_name, **options)
    return output.getvalue()


def gray_of(data: bytes, filename: str = "upload") -> Image.Image:
    result = image.process(data, filename)
    picture = Image.open(io.BytesIO(result))
    picture.load()
    return picture


def pixels_of(data: bytes) -> np.ndarray:
    return np.asarray(gray_of(data)).astype(np.int64)


@pytest.mark.parametrize("name", GOOD_IMAGES)
def test_every_good_image_becomes_a_gray_png(corpus, name):
    """Each readable corpus image comes back as a PNG in L or LA of the same size."""
    data = (corpus / "images" / name).read_bytes()

    source_size = Image.open(io.BytesIO(data)).size

    result = image.process(data, name)

    assert result.startswith(PNG_MAGIC)
    output = Image.open(io.BytesIO(result))
    assert output.format == "PNG"
    assert output.mode in ("L", "LA")
    assert output.size == source_size


def test_jpeg_matches_pillow_luma(corpus):
    """An RGB JPEG turns gray exactly as Pillow's ITU-R 601-2 convert("L") does."""
    data = (corpus / "images" / "hopper.jpg").read_bytes()
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("L"))

    output = gray_of(data)

    assert output.mode == "L"
    assert np.array_equal(np.asarray(output), expected)


def test_exif_orientation_is_applied(corpus):
    """hopper_orientation_6.jpg, stored lying on its side, comes out like hopper.jpg."""
    upright_reference = pixels_of((corpus / "images" / "hopper.jpg").read_bytes())
    stored = np.asarray(Image.open(corpus / "images" / "hopper_orientation_6.jpg"))

    output = pixels_of((corpus / "images" / "hopper_orientation_6.jpg").read_bytes())

    def correlation(a, b):
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    # Measured: 0.997 after turning, 0.14 as stored, 0.05 turned the wrong way.
    assert correlation(output, upright_reference) > 0.99
    assert correlation(stored.mean(axis=2), upright_reference) < 0.3
    assert correlation(np.rot90(output, 2), upright_reference) < 0.3


def test_cmyk_jpeg_is_not_inverted(corpus):
    """The CMYK sample, red top-left on black, stays dark with a lighter red corner."""
    output = pixels_of((corpus / "images" / "pil_sample_cmyk.jpg").read_bytes())

    assert 8 < output.mean() < 20
    assert 70 < output[0, 0] < 100
    assert output[-1, -1] < 10


def test_16_bit_tiff_is_divided_by_257(corpus):
    """The dark 16-bit TIFF is scaled by 1/257, not clipped to white."""
    path = corpus / "images" / "16bit.cropped.tif"
    raw = np.asarray(Image.open(path)).astype(np.float64)

    output = pixels_of(path.read_bytes())

    assert np.array_equal(output, np.rint(raw / 257))
    assert output.max() == 3


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_16_bit_ramp_spans_the_8_bit_range(mode):
    """A 0..65535 ramp in any 16-bit mode maps to 0..255 by value / 257, rounded."""
    ramp = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    if mode == "I;16B":
        picture = Image.frombytes(mode, (256, 256), ramp.astype(">u2").tobytes())
    else:
        picture = Image.fromarray(ramp).convert(mode)

    output = pixels_of(encode(picture, "TIFF"))

    assert output[0, 0] == 0 and output[-1, -1] == 255
    assert np.array_equal(output, np.rint(ramp / 257))


def test_wide_integer_and_float_images_are_stretched():
    """An "I" image beyond 0..65535 and an "F" image beyond 0..1 use min..max."""
    values = np.linspace(-1000, 100_000, 1025).reshape(1, 1025)
    integers = Image.fromarray(values.astype(np.int32))
    floats = Image.fromarray((values / 7).astype(np.float32))

    for picture in (integers, floats):
        output = pixels_of(encode(picture, "TIFF"))
        assert output[0, 0] == 0 and output[-1, -1] == 255
        assert abs(output[0, 512] - 128) <= 1


def test_float_image_within_0_to_1_is_multiplied_by_255():
    """An "F" image of 0.0..0.5 gives 0..128 rather than being stretched to white."""
    values = np.linspace(0.0, 0.5, 256, dtype=np.float32).reshape(16, 16)

    output = pixels_of(encode(Image.fromarray(values), "TIFF"))

    assert output.max() == 128
    assert np.array_equal(output, np.rint(values * 255))


def test_rgba_keeps_alpha_exactly():
    """An RGBA PNG becomes LA with the same alpha and the RGB luma."""
    channels = np.random.default_rng(1).integers(0, 256, (30, 40, 4), dtype=np.uint8)
    picture = Image.fromarray(channels)

    output = gray_of(encode(picture, "PNG"))

    assert output.mode == "LA"
    pixels = np.asarray(output)
    assert np.array_equal(pixels[..., 1], channels[..., 3])
    luma = np.asarray(picture.convert("RGB").convert("L"))
    assert np.array_equal(pixels[..., 0], luma)


def test_palette_transparency_becomes_alpha():
    """A GIF with a transparent palette index gives LA, transparent where it was."""
    picture = Image.new("P", (8, 8), 0)
    picture.putpalette([0, 0, 0, 255, 255, 255])
    picture.paste(1, (0, 0, 4, 8))

    output = np.asarray(gray_of(encode(picture, "GIF", transparency=0)))

    assert output.shape == (8, 8, 2)
    assert (output[:, :4] == [255, 255]).all()
    assert (output[:, 4:, 1] == 0).all()


def test_corpus_animation_keeps_frames_and_timing(corpus):
    """dispose_bgnd.gif becomes an animated PNG of its 5 frames, 1 s each, looping."""
    output = gray_of((corpus / "images" / "dispose_bgnd.gif").read_bytes())

    assert output.n_frames == 5
    assert output.info["loop"] == 0
    durations = [frame.info["duration"] for frame in ImageSequence.Iterator(output)]
    assert durations == [1000] * 5


def test_animation_frames_are_composited_gray_frames():
    """Each output frame is the source's full frame in gray, with its own duration."""
    frames = []
    for index in range(3):
        frame = Image.new("P", (15, 5), 0)
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
        frame.paste(index + 1, (index * 5, 0, index * 5 + 5, 5))
        frames.append(frame)
    data = encode(
        frames[0],
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=2,
        transparency=0,
        disposal=2,
    )

    output = gray_of(data)

    assert (output.mode, output.n_frames, output.info["loop"]) == ("LA", 3, 2)
    source = Image.open(io.BytesIO(data))
    pairs = zip(ImageSequence.Iterator(output), ImageSequence.Iterator(source))
    for index, (gray_frame, source_frame) in enumerate(pairs):
        assert gray_frame.info["duration"] == [100, 200, 300][index]
        expected = np.asarray(source_frame.convert("RGBA").convert("LA"))
        assert np.array_equal(np.asarray(gray_frame.convert("LA")), expected)
    # Red, green and blue squares in turn: luma 76, 150, 29, each alone opaque.
    assert np.asarray(output.convert("LA"))[2, 12].tolist() == [29, 255]


@pytest.mark.parametrize(
    "name, message",
    [
        ("broken.png", "the image is damaged or truncated: it starts like a PNG"),
        ("truncated_jpeg.jpg", "the image is damaged or truncated: image file is"),
        ("decompression_bomb.gif", "the image is too large: 4364696535 pixels"),
    ],
)
def test_bad_corpus_images_raise(corpus, name, message):
    """Damaged, truncated and bomb images raise ProcessingError saying which."""
    with pytest.raises(ProcessingError, match=message):
        image.process((corpus / "images" / name).read_bytes(), name)


def test_empty_file_raises():
    """A 0-byte upload is refused as empty."""
    with pytest.raises(ProcessingError, match=r"the file is empty \(0 bytes\)"):
        image.process(b"", "empty.png")


def test_non_image_raises():
    """Plain text is refused as an unrecognised format."""
    with pytest.raises(ProcessingError, match="not a recognised image format"):
        image.process(b"just some words, no pixels", "notes.png")


def test_canvas_just_over_the_pixel_limit_raises():
    """A small file declaring a 10000x9000 canvas is refused before decoding."""
    data = encode(Image.new("1", (10_000, 9_000)), "PNG", optimize=True)

    with pytest.raises(ProcessingError, match="90000000 pixels exceeds the limit of"):
        image.process(data, "huge.png")


def test_pixel_limit_is_the_module_constant(corpus, monkeypatch):
    """Lowering imaging.MAX_IMAGE_PIXELS refuses hopper's 128x128 pixels."""
    monkeypatch.setattr(imaging, "MAX_IMAGE_PIXELS", 128 * 128 - 1)

    data = (corpus / "images" / "hopper.png").read_bytes()

    with pytest.raises(ProcessingError, match="16384 pixels exceeds .* 16383 pixels"):
        image.process(data, "hopper.png")
