"""Level, clipping, silence and spectrum measures of float64 samples at full scale 1.0.

measure() takes a (frames, channels) array; one channel is passed as one column, so
the same measures serve the whole recording and each channel:

- rms, peak (largest magnitude), crest_factor (peak / rms), dc_offset (mean), and
  rms_dbfs, peak_dbfs, crest_factor_db as 20·log10 of them; None where that is -inf;
- zero_crossings, sign changes between neighbouring samples (0 counts as positive),
  and zero_crossing_rate, those changes per pair of neighbours, averaged over channels;
- clipping_ratio, the fraction of samples at or beyond the format's largest value;
- silence_ratio, the fraction of 20 ms windows (the last may be shorter) whose RMS
  over all channels is below -60 dBFS;
- spectral_centroid_hz and dominant_frequency_hz (the DC bin left out) of the mono
  mix's Hann-windowed power spectrum, averaged over up to MAX_SPECTRUM_FRAMES frames
  of 4096 samples spread evenly over the file; a shorter file is zero-padded. Both are
  None when the mix is silent.
"""

import math

import numpy as np

SILENCE_WINDOW_S = 0.02
SILENCE_THRESHOLD_DBFS = -60.0
"""A window whose RMS is below this level counts as silent."""

SPECTRUM_FRAME_SAMPLES = 4096
MAX_SPECTRUM_FRAMES = 64
"""Frames averaged into the spectrum, spread evenly so a long file stays fast."""


def decibels(ratio: float) -> float | None:
    """20·log10 of an amplitude ratio; None for 0 (JSON has no -inf)."""
    return 20.0 * math.log10(ratio) if ratio > 0 else None


def finite_or_none(value: float | None) -> float | None:
    """A plain float, or None where a value overflowed to infinity."""
    return float(value) if value is not None and math.isfinite(value) else None


def zero_crossing_counts(samples: np.ndarray) -> np.ndarray:
    """Sign changes between neighbouring samples, per channel; 0 counts as positive."""
    non_negative = samples >= 0
    return np.count_nonzero(non_negative[1:] != non_negative[:-1], axis=0)


def silence_ratio(frame_energy: np.ndarray, sample_rate: int) -> float:
    """Fraction of 20 ms windows, the last possibly shorter, below the silence level."""
    window = max(1, round(SILENCE_WINDOW_S * sample_rate))
    full_windows = len(frame_energy) // window
    window_energy = frame_energy[: full_windows * window].reshape(-1, window).mean(1)
    if len(frame_energy) % window:
        tail_energy = frame_energy[full_windows * window :].mean()
        window_energy = np.append(window_energy, tail_energy)
    threshold_energy = 10 ** (SILENCE_THRESHOLD_DBFS / 10)
    silent_windows = np.count_nonzero(window_energy < threshold_energy)
    return float(silent_windows / len(window_energy))


def spectrum_frame_starts(frame_count: int) -> np.ndarray:
    """Start indices of the spectrum frames, evenly spread from first to last."""
    if frame_count <= SPECTRUM_FRAME_SAMPLES:
        return np.zeros(1, dtype=np.int64)
    count = min(MAX_SPECTRUM_FRAMES, frame_count // SPECTRUM_FRAME_SAMPLES)
    last_start = frame_count - SPECTRUM_FRAME_SAMPLES
    return np.rint(np.linspace(0, last_start, count)).astype(np.int64)


def spectrum_measures(samples: np.ndarray, sample_rate: int) -> dict:
    """Spectral centroid and dominant frequency of the averaged Hann power spectrum."""
    mono = samples.mean(axis=1)
    if len(mono) < SPECTRUM_FRAME_SAMPLES:
        mono = np.pad(mono, (0, SPECTRUM_FRAME_SAMPLES - len(mono)))
    starts = spectrum_frame_starts(len(mono))
    segments = mono[starts[:, None] + np.arange(SPECTRUM_FRAME_SAMPLES)]

    # The periodic Hann window suits spectral analysis better than np.hanning's.
    phase = 2 * np.pi * np.arange(SPECTRUM_FRAME_SAMPLES) / SPECTRUM_FRAME_SAMPLES
    hann = 0.5 - 0.5 * np.cos(phase)
    power = (np.abs(np.fft.rfft(segments * hann, axis=1)) ** 2).mean(axis=0)
    frequencies = np.fft.rfftfreq(SPECTRUM_FRAME_SAMPLES, d=1 / sample_rate)

    total_power = power.sum()
    centroid = (frequencies * power).sum() / total_power if total_power > 0 else None
    above_dc = power[1:]
    dominant = frequencies[1 + above_dc.argmax()] if above_dc.max() > 0 else None
    return {
        "spectral_centroid_hz": finite_or_none(centroid),
        "dominant_frequency_hz": finite_or_none(dominant),
    }


def measure(samples: np.ndarray, sample_rate: int, clip_level: float) -> dict:
    """Levels, crossings, clipping, silence and spectrum of (frames, channels) data."""
    # Float files may hold values so large that their squares overflow; those
    # measures become None instead of warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        return unguarded_measures(samples, sample_rate, clip_level)


def unguarded_measures(
    samples: np.ndarray, sample_rate: int, clip_level: float
) -> dict:
    """The measures of measure(), which may overflow to infinity on huge samples."""
    frame_count = len(samples)
    frame_energy = np.square(samples).mean(axis=1)
    rms = math.sqrt(frame_energy.mean())
    peak = float(max(samples.max(), -samples.min()))
    crest_factor = peak / rms if 0 < rms < math.inf else None
    crossings = zero_crossing_counts(samples)
    clipped = np.count_nonzero(np.abs(samples) >= clip_level)

    return {
        "rms": finite_or_none(rms),
        "rms_dbfs": finite_or_none(decibels(rms)),
        "peak": finite_or_none(peak),
        "peak_dbfs": finite_or_none(decibels(peak)),
        "crest_factor": finite_or_none(crest_factor),
        "crest_factor_db": decibels(crest_factor) if crest_factor else None,
        "dc_offset": finite_or_none(samples.mean()),
        "zero_crossings": int(crossings.sum()),
        "zero_crossing_rate": float((crossings / max(frame_count - 1, 1)).mean()),
        "clipping_ratio": float(clipped / samples.size),
        "silence_ratio": silence_ratio(frame_energy, sample_rate),
        **spectrum_measures(samples, sample_rate),
    }
