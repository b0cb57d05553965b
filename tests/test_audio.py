"""Tests of the audio processor on the corpus recordings and on synthetic signals."""

import io
import json
import math
import struct
import wave

import numpy as np
import pytest
import soundfile

from slave_service.errors import ProcessingError
from slave_service.processors import audio
from slave_service.processors.ogg_flac import is_ogg_flac

CORPUS_AUDIO_FILES = (
    "test1.wav",
    "test1-8bit.wav",
    "test1-24bit.wav",
    "stereo.wav",
    "test-192khz-32bit.flac",
    "party.mp3",
    "bach.ogg",
)


def encoded(samples, sample_rate=44100, file_format="WAV", subtype="PCM_16") -> bytes:
    """Samples written by soundfile into an in-memory file."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=file_format, subtype=subtype)
    return buffer.getvalue()


def sine(frequency_hz, amplitude, seconds=1.0, sample_rate=44100) -> np.ndarray:
    times = np.arange(round(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * frequency_hz * times)


def riff_chunk(data: bytes, chunk_id: bytes) -> bytes:
    """The body of the first RIFF chunk with this id, found without soundfile."""
    position = 12
    while position + 8 <= len(data):
        (size,) = struct.unpack_from("<I", data, position + 4)
        if data[position : position + 4] == chunk_id:
            return data[position + 8 : position + 8 + size]
        position += 8 + size + (size & 1)
    raise AssertionError(f"no {chunk_id!r} chunk")


def wav_samples_by_hand(path) -> np.ndarray:
    """Float64 (frames, channels) samples at full scale 1.0, decoded by hand."""
    data = path.read_bytes()
    if path.name == "stereo.wav":
        floats = np.frombuffer(riff_chunk(data, b"data"), "<f4")
        return floats.astype(np.float64).reshape(-1, 2)
    with wave.open(str(path)) as wav:
        width, channels = wav.getsampwidth(), wav.getnchannels()
        pcm = wav.readframes(wav.getnframes())
    if width == 1:
        values = (np.frombuffer(pcm, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        values = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    else:
        triples = np.frombuffer(pcm, np.uint8).reshape(-1, 3).astype(np.int64)
        unsigned = triples[:, 0] | triples[:, 1] << 8 | triples[:, 2] << 16
        values = np.where(unsigned >= 2**23, unsigned - 2**24, unsigned) / 2**23
    return values.reshape(-1, channels)


def only_plain_values(value) -> bool:
    """True when a result holds only dicts, lists, str, int, float and None."""
    if isinstance(value, dict):
        return all(only_plain_values(item) for item in value.values())
    if isinstance(value, list):
        return all(only_plain_values(item) for item in value)
    return value is None or type(value) in (str, int, float)


# Header facts read by hand from each file's fmt and data chunks (data bytes over
# block align gives the frames).
@pytest.mark.parametrize(
    "name, sample_rate, channels, frames, subtype, sample_width",
    [
        ("test1.wav", 32000, 2, 320303, "PCM_16", 2),
        ("test1-8bit.wav", 32000, 2, 320303, "PCM_U8", 1),
        ("test1-24bit.wav", 44100, 2, 441000, "PCM_24", 3),
        ("stereo.wav", 44100, 2, 4, "FLOAT", 4),
    ],
)
def test_wav_header_facts(
    corpus, name, sample_rate, channels, frames, subtype, sample_width
):
    """Rate, channels, frames, duration and subtype are those of the WAV header."""
    result = audio.process((corpus / "audio" / name).read_bytes(), name)

    assert result["filename"] == name
    assert result["format"] == "WAV"
    assert result["subtype"] == subtype
    assert result["sample_rate"] == sample_rate
    assert result["channels"] == channels
    assert result["frames"] == frames
    assert result["duration_seconds"] == pytest.approx(frames / sample_rate, rel=1e-15)
    assert result["sample_width"] == sample_width
    assert len(result["per_channel"]) == channels


@pytest.mark.parametrize(
    "name, rms_energy",
    # audioop.rms gave 4235 and 1084345 on the 16- and 24-bit data, and 16 on the
    # 8-bit data once biased to signed.
    [("test1.wav", 4235), ("test1-8bit.wav", 16), ("test1-24bit.wav", 1084345)],
)
def test_pcm_levels_match_decoding_by_hand(corpus, name, rms_energy):
    """RMS, peak, DC, crossings and rms_energy agree with numpy on hand-decoded PCM."""
    path = corpus / "audio" / name
    samples = wav_samples_by_hand(path)

    result = audio.process(path.read_bytes(), name)

    assert result["rms"] == pytest.approx(np.sqrt(np.mean(samples**2)), rel=1e-12)
    assert result["peak"] == pytest.approx(np.max(np.abs(samples)), rel=1e-12)
    assert result["dc_offset"] == pytest.approx(samples.mean(), rel=1e-9)
    non_negative = samples >= 0
    assert result["zero_crossings"] == np.sum(non_negative[1:] != non_negative[:-1])
    assert result["rms_energy"] == rms_energy
    for channel, channel_result in enumerate(result["per_channel"]):
        column = samples[:, channel]
        column_rms, column_peak = np.sqrt(np.mean(column**2)), np.max(np.abs(column))
        assert channel_result["channel"] == channel + 1
        assert channel_result["rms"] == pytest.approx(column_rms, rel=1e-12)
        assert channel_result["peak"] == pytest.approx(column_peak, rel=1e-12)


def test_float_wav_measures_its_known_samples(corpus):
    """stereo.wav holds 1.75, 1, 0.5, 0.25 on the left and their negatives right."""
    path = corpus / "audio" / "stereo.wav"
    samples = wav_samples_by_hand(path)
    assert samples[:, 0].tolist() == [1.75, 1.0, 0.5, 0.25]

    result = audio.process(path.read_bytes(), "stereo.wav")

    assert result["rms"] == pytest.approx(np.sqrt(np.mean(samples**2)), rel=1e-12)
    assert result["peak"] == 1.75
    assert result["peak_dbfs"] == pytest.approx(20 * math.log10(1.75))
    assert result["clipping_ratio"] == 0.5
    assert result["dc_offset"] == 0.0
    assert [c["dc_offset"] for c in result["per_channel"]] == [0.875, -0.875]
    # The mono mix of opposite channels is silent, so it has no spectrum.
    assert result["spectral_centroid_hz"] is None
    assert result["dominant_frequency_hz"] is None
    assert result["rms_energy"] == int(result["rms"] * 32768)


def test_flac_reads_24_bit_stream(corpus):
    """The FLAC file (24 bits despite its name) decodes to its 1336184 frames."""
    data = (corpus / "audio" / "test-192khz-32bit.flac").read_bytes()

    result = audio.process(data, "test-192khz-32bit.flac")

    assert (result["format"], result["subtype"]) == ("FLAC", "PCM_24")
    assert (result["sample_rate"], result["channels"]) == (192000, 2)
    assert result["frames"] == 1336184
    assert result["duration_seconds"] == pytest.approx(6.959291666666667)
    assert result["sample_width"] == 3
    assert result["rms"] == pytest.approx(0.018130011405676445, rel=1e-9)
    assert result["peak"] == pytest.approx(0.19349992275238037, rel=1e-12)
    assert result["clipping_ratio"] == 0.0


def test_mp3_duration_is_that_of_its_frames(corpus):
    """party.mp3 holds 252 MPEG frames of 1152 samples: 290304 samples, 6.58 s."""
    result = audio.process((corpus / "audio" / "party.mp3").read_bytes(), "party.mp3")

    assert (result["format"], result["subtype"]) == ("MP3", "MPEG_LAYER_III")
    assert (result["sample_rate"], result["channels"]) == (44100, 1)
    assert result["frames"] == 252 * 1152
    assert result["duration_seconds"] == pytest.approx(6.5829, abs=1e-4)
    assert result["sample_width"] is None
    assert result["rms"] == pytest.approx(0.02903, rel=1e-3)
    assert result["peak"] == pytest.approx(0.58006, rel=1e-3)
    assert result["rms_energy"] == int(result["rms"] * 32768)


def test_ogg_flac_is_remuxed_and_decoded(corpus):
    """bach.ogg, FLAC in Ogg, decodes to its 29 frames of 4608 samples at 44.1 kHz."""
    data = (corpus / "audio" / "bach.ogg").read_bytes()
    assert is_ogg_flac(data)

    result = audio.process(data, "bach.ogg")

    assert (result["format"], result["subtype"]) == ("OGG", "FLAC")
    assert "Ogg container" in result["subtype_info"]
    assert (result["sample_rate"], result["channels"]) == (44100, 1)
    assert result["frames"] == 29 * 4608
    assert result["duration_seconds"] == pytest.approx(3.0302, abs=1e-4)
    assert result["sample_width"] == 2
    assert result["rms"] == pytest.approx(0.12550, rel=1e-4)
    assert result["peak"] == 21693 / 32768
    assert result["silence_ratio"] == 0.0


@pytest.mark.parametrize("cut_at", [40, 79, 100, 5000, 85643])
def test_truncated_ogg_flac_raises_processing_error(corpus, cut_at):
    """An Ogg FLAC file cut anywhere gives a ProcessingError, never an IndexError."""
    data = (corpus / "audio" / "bach.ogg").read_bytes()[:cut_at]

    with pytest.raises(ProcessingError, match="damaged or truncated"):
        audio.process(data, "bach.ogg")


def test_ogg_flac_with_bad_lacing_raises_processing_error(corpus):
    """A lacing value pointing past the next page gives a ProcessingError."""
    data = bytearray((corpus / "audio" / "bach.ogg").read_bytes())
    data[27] = 0xF0  # the first page's only lacing value, 51 in the file

    with pytest.raises(ProcessingError, match="no Ogg page starts at byte"):
        audio.process(bytes(data), "bach.ogg")


@pytest.mark.parametrize("name", CORPUS_AUDIO_FILES)
def test_corpus_results_are_strict_json(corpus, name):
    """Every corpus result has only plain values and no NaN or infinity."""
    result = audio.process((corpus / "audio" / name).read_bytes(), name)

    json.dumps(result, allow_nan=False)
    assert only_plain_values(result)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_sine_levels_and_spectrum(subtype):
    """A 1 kHz sine at amplitude 0.5 has the textbook RMS, peak, frequency and rate."""
    sample_rate = 44100
    data = encoded(sine(1000, 0.5), sample_rate, subtype=subtype)

    result = audio.process(data, "sine.wav")

    assert result["rms"] == pytest.approx(0.5 / math.sqrt(2), rel=1e-4)
    assert result["rms_dbfs"] == pytest.approx(-9.031, abs=1e-3)
    assert result["peak"] == pytest.approx(0.5, abs=1e-5)
    assert result["crest_factor"] == pytest.approx(math.sqrt(2), rel=1e-4)
    assert result["crest_factor_db"] == pytest.approx(3.0103, abs=1e-3)
    bin_hz = sample_rate / 4096
    assert result["spectrum_resolution_hz"] == bin_hz
    assert abs(result["dominant_frequency_hz"] - 1000) <= bin_hz
    assert result["spectral_centroid_hz"] == pytest.approx(1000, abs=10)
    expected_rate = 2 * 1000 / sample_rate
    assert result["zero_crossing_rate"] == pytest.approx(expected_rate, rel=1e-2)
    assert result["clipping_ratio"] == 0.0
    assert result["silence_ratio"] == 0.0


def test_silent_file_has_no_decibels_and_no_nan():
    """All-zero samples are fully silent, with None where a dB would be -inf."""
    result = audio.process(encoded(np.zeros((8000, 2)), 8000), "silence.wav")

    assert result["silence_ratio"] == 1.0
    assert result["rms"] == 0.0
    for key in ("rms_dbfs", "peak_dbfs", "crest_factor", "crest_factor_db"):
        assert result[key] is None
    assert result["spectral_centroid_hz"] is None
    assert result["per_channel"][1]["rms_dbfs"] is None
    json.dumps(result, allow_nan=False)


def test_silence_ratio_counts_20_ms_windows_below_minus_60_dbfs():
    """25 windows of 160 samples at -70 dBFS, then 25.5 at -50 dBFS: 25 of 51 silent."""
    quiet = sine(440, 10 ** (-70 / 20) * math.sqrt(2), seconds=0.5, sample_rate=8000)
    louder = sine(440, 10 ** (-50 / 20) * math.sqrt(2), seconds=0.51, sample_rate=8000)
    samples = np.concatenate([quiet, louder])

    result = audio.process(encoded(samples, 8000, subtype="FLOAT"), "quiet.wav")

    assert result["rms_dbfs"] == pytest.approx(-52.925, abs=0.01)
    assert result["silence_ratio"] == 25 / 51


def test_wave_format_extensible_reads():
    """A WAVE_FORMAT_EXTENSIBLE file with four 24-bit channels gives four channels."""
    amplitudes = [0.1, 0.2, 0.3, 0.4]
    tone = sine(500, 1.0, seconds=0.5, sample_rate=48000)
    data = encoded(np.outer(tone, amplitudes), 48000, "WAVEX", "PCM_24")
    assert data[20:22] == b"\xfe\xff"

    result = audio.process(data, "quad.wav")

    assert (result["channels"], result["subtype"]) == (4, "PCM_24")
    assert result["sample_width"] == 3
    channel_rms = [channel["rms"] for channel in result["per_channel"]]
    expected_rms = [amplitude / math.sqrt(2) for amplitude in amplitudes]
    assert channel_rms == pytest.approx(expected_rms, rel=1e-4)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_full_scale_square_wave_is_all_clipped(subtype):
    """Every sample of a full-scale square wave is at the format's limit."""
    square = np.where(sine(100, 1.0) >= 0, 1.0, -1.0)

    full = audio.process(encoded(square, subtype=subtype), "square.wav")
    half = audio.process(encoded(square / 2, subtype=subtype), "square.wav")

    assert full["clipping_ratio"] == 1.0
    assert half["clipping_ratio"] == 0.0


def test_dc_offset_is_the_mean():
    """A constant quarter-scale signal has a DC offset of 0.25 and no crossings."""
    result = audio.process(encoded(np.full(1000, 0.25)), "dc.wav")

    assert result["dc_offset"] == 0.25
    assert result["zero_crossings"] == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b"this is not audio at all" * 20, "not a readable audio file: Format not"),
        (np.arange(-3000, 3000, 7, dtype="<i2").tobytes(), "not a readable audio file"),
        (b"RIFF\x00\x00\x00\x00WAVE", "not a readable audio file: .*'data'"),
        (encoded(np.zeros((0, 1))), "the recording has no samples"),
    ],
    ids=["empty", "text", "headerless-pcm", "riff-only", "zero-frames"],
)
def test_unreadable_input_raises_processing_error(data, message):
    """Bytes that are no recording give a ProcessingError saying why."""
    with pytest.raises(ProcessingError, match=message):
        audio.process(data, "sound.wav")


def test_wav_claiming_more_data_reads_present_samples(corpus):
    """A WAV whose data chunk claims 1 GB reads the 1000 frames actually present."""
    original = (corpus / "audio" / "test1.wav").read_bytes()
    header_bytes, frame_bytes = 44, 4
    assert original[36:40] == b"data"
    header = original[:40] + struct.pack("<I", 10**9)
    data = header + original[header_bytes : header_bytes + 1000 * frame_bytes]
    expected = wav_samples_by_hand(corpus / "audio" / "test1.wav")[:1000]

    result = audio.process(data, "cut.wav")

    assert result["frames"] == 1000
    assert result["rms"] == pytest.approx(np.sqrt(np.mean(expected**2)), rel=1e-12)


def test_float_wav_with_nan_raises_processing_error():
    """A float sample that is NaN marks the recording as damaged."""
    samples = sine(1000, 0.5, seconds=0.1)
    samples[10] = np.nan

    with pytest.raises(ProcessingError, match="1 of 4410 samples are NaN"):
        audio.process(encoded(samples, subtype="FLOAT"), "nan.wav")
