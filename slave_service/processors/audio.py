"""Audio processor: format, duration, levels, clipping, silence and spectrum of a file.

Any format libsndfile reads is accepted (WAV in 8/16/24/32-bit PCM, IEEE float and
WAVE_FORMAT_EXTENSIBLE, FLAC, Ogg Vorbis/Opus, MP3, AIFF). FLAC inside an Ogg container,
which libsndfile 1.2.2 cannot decode, is remuxed into native FLAC first and reported as
format "OGG", subtype "FLAC". Samples are decoded as float64 at full scale 1.0 (integer
PCM divided by 2**(bits-1)) and every measure is computed from them; see
audio_metrics for the definitions.

Limits: the whole recording is decoded into memory, so files of more than
limits.MAX_AUDIO_SAMPLES samples (all channels together, env MAX_AUDIO_SAMPLES) are
refused, judged by the length the file states before decoding. Frame counts and
durations are those of the samples actually decoded, which for MP3 can be shorter than
the length the file's header estimates. The spectrum averages at most
audio_metrics.MAX_SPECTRUM_FRAMES frames of 4096 samples, so the dominant frequency is
only as fine as one FFT bin (spectrum_resolution_hz). A-law, mu-law and ADPCM files
never reach full scale, so their clipping ratio only counts samples at 1.0. A native
FLAC stream that does not state its length (total samples 0, as some encoders write
to a pipe) is refused, because libsndfile cannot decode it.
"""

import io
from dataclasses import dataclass, replace

import numpy as np
import soundfile

from slave_service.errors import ProcessingError
from slave_service.processors.audio_metrics import SPECTRUM_FRAME_SAMPLES, measure
from slave_service.processors.limits import MAX_AUDIO_SAMPLES
from slave_service.processors.ogg_flac import is_ogg_flac, ogg_flac_to_native

UNSTATED_LENGTH_FRAMES = 2**62
"""libsndfile reports a length this large when the file does not state one."""

PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
FLOAT_BYTES = {"FLOAT": 4, "DOUBLE": 8}
LEGACY_RMS_BITS = 16
"""Integer units of rms_energy for float and lossy formats, as for 16-bit PCM."""


@dataclass(frozen=True)
class Recording:
    """Decoded samples and what libsndfile says about their format."""

    samples: np.ndarray
    sample_rate: int
    format: str
    format_info: str
    subtype: str
    subtype_info: str
    sample_subtype: str
    """The subtype the samples were stored in, which sets width and full scale."""


def unreadable(error: RuntimeError) -> ProcessingError:
    """The error for data libsndfile refuses, carrying libsndfile's own message."""
    detail = getattr(error, "error_string", None) or str(error)
    return ProcessingError(f"not a readable audio file: {detail}")


def check_length(sound_file: soundfile.SoundFile) -> None:
    """Refuse a file whose stated length is unknown or too large to decode."""
    if sound_file.frames >= UNSTATED_LENGTH_FRAMES:
        raise ProcessingError(
            "the recording does not state its length (such as a FLAC stream written "
            "to a pipe), which libsndfile cannot decode; re-encode it to a file"
        )
    samples = sound_file.frames * sound_file.channels
    if samples > MAX_AUDIO_SAMPLES:
        raise ProcessingError(
            f"the recording is too long: {samples} samples over all channels exceed "
            f"the limit of {MAX_AUDIO_SAMPLES} (MAX_AUDIO_SAMPLES); split it into "
            "shorter files"
        )


def decode(data: bytes) -> Recording:
    """Float64 (frames, channels) samples and format of a file libsndfile reads."""
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound_file:
            check_length(sound_file)
            samples = sound_file.read(dtype="float64", always_2d=True)
            return Recording(
                samples=samples,
                sample_rate=sound_file.samplerate,
                format=sound_file.format,
                format_info=sound_file.format_info,
                subtype=sound_file.subtype,
                subtype_info=sound_file.subtype_info,
                sample_subtype=sound_file.subtype,
            )
    except RuntimeError as error:
        # soundfile.LibsndfileError is a RuntimeError and carries libsndfile's message.
        raise unreadable(error) from None


def read_recording(data: bytes) -> Recording:
    """The decoded recording, remuxing Ogg FLAC to native FLAC on the way."""
    if not is_ogg_flac(data):
        return decode(data)
    recording = decode(ogg_flac_to_native(data))
    return replace(
        recording,
        format="OGG",
        format_info=soundfile.available_formats()["OGG"],
        subtype="FLAC",
        subtype_info=(
            f"FLAC (Free Lossless Audio Codec), {recording.subtype_info}, in an Ogg "
            "container (remuxed to native FLAC to decode)"
        ),
    )


def sample_width(subtype: str) -> int | None:
    """Bytes per sample of an uncompressed or lossless PCM subtype; None when lossy."""
    if subtype in PCM_BITS:
        return PCM_BITS[subtype] // 8
    return FLOAT_BYTES.get(subtype)


def clip_level(subtype: str) -> float:
    """The largest magnitude the subtype can hold at full scale 1.0."""
    if subtype in PCM_BITS:
        return 1.0 - 2.0 ** -(PCM_BITS[subtype] - 1)
    return 1.0


def process(data: bytes, filename: str, **options) -> dict:
    """Format and measures of one recording; raises ProcessingError when unreadable.

    Besides the measures of audio_metrics, over all channels and per channel, the
    result keeps the older keys: ``sample_width`` (bytes per PCM or float sample, None
    for lossy formats), ``rms_energy`` (the RMS in integer sample units as
    ``audioop.rms`` gave it; float and lossy formats use 16-bit units) and
    ``zero_crossings`` (sign changes summed over channels).
    """
    if not data:
        raise ProcessingError("the file is empty (0 bytes)")
    recording = read_recording(data)
    samples, sample_rate = recording.samples, recording.sample_rate
    frame_count, channel_count = samples.shape
    if frame_count == 0:
        raise ProcessingError("the recording has no samples")
    non_finite = samples.size - np.count_nonzero(np.isfinite(samples))
    if non_finite:
        raise ProcessingError(
            f"the recording is damaged: {non_finite} of {samples.size} samples are NaN "
            "or infinite"
        )

    level = clip_level(recording.sample_subtype)
    overall = measure(samples, sample_rate, level)
    per_channel = [
        {"channel": index + 1, **measure(samples[:, [index]], sample_rate, level)}
        for index in range(channel_count)
    ]
    width = sample_width(recording.sample_subtype)
    legacy_bits = PCM_BITS.get(recording.sample_subtype, LEGACY_RMS_BITS)
    rms_energy = None
    if overall["rms"] is not None:
        rms_energy = int(overall["rms"] * 2 ** (legacy_bits - 1))

    return {
        "filename": filename,
        "format": recording.format,
        "format_info": recording.format_info,
        "subtype": recording.subtype,
        "subtype_info": recording.subtype_info,
        "sample_rate": int(sample_rate),
        "channels": int(channel_count),
        "frames": int(frame_count),
        "duration_seconds": frame_count / sample_rate,
        "sample_width": width,
        **overall,
        "rms_energy": rms_energy,
        "spectrum_resolution_hz": sample_rate / SPECTRUM_FRAME_SAMPLES,
        "per_channel": per_channel,
    }
