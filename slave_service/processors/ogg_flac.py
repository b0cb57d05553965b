"""Ogg FLAC remuxed in memory into a native FLAC stream that libsndfile can decode.

libsndfile 1.2.2 fails on FLAC inside Ogg ("unknown error in flac decoder"), while it
decodes the same frames as a native ``fLaC`` stream. The Ogg FLAC mapping puts
"\\x7fFLAC", a 2-byte version, a 2-byte header count, "fLaC" and the STREAMINFO block in
the first packet, each further metadata block in a packet of its own, then one audio
frame per packet; so the native stream is those pieces concatenated.

Limits: only the first logical stream of a multiplexed Ogg file is read, and a file cut
off inside a page is refused rather than decoded up to the cut.
"""

from slave_service.errors import ProcessingError

OGG_CAPTURE_PATTERN = b"OggS"
OGG_PAGE_HEADER_BYTES = 27
OGG_FLAC_SIGNATURE = b"\x7fFLAC"
NATIVE_FLAC_SIGNATURE = b"fLaC"
NATIVE_STREAM_OFFSET = 9
"""Where "fLaC" starts in the first Ogg FLAC packet, after signature, version, count."""

METADATA_HEADER_BYTES = 4
STREAMINFO_BYTES = 34
STREAMINFO_TYPE = 0
LAST_METADATA_FLAG = 0x80
TOTAL_SAMPLES_BITS = 36
FULL_LACING_VALUE = 255
"""A lacing value of 255 means the packet continues in the next segment."""


def is_ogg_flac(data: bytes) -> bool:
    """True when the first Ogg page's packet starts with the Ogg FLAC signature."""
    if not data.startswith(OGG_CAPTURE_PATTERN) or len(data) < OGG_PAGE_HEADER_BYTES:
        return False
    body_start = OGG_PAGE_HEADER_BYTES + data[OGG_PAGE_HEADER_BYTES - 1]
    return data[body_start : body_start + len(OGG_FLAC_SIGNATURE)] == OGG_FLAC_SIGNATURE


def damaged(detail: str) -> ProcessingError:
    """The error for an Ogg FLAC file whose structure is broken."""
    return ProcessingError(f"the Ogg FLAC file is damaged or truncated: {detail}")


def ogg_packets(data: bytes) -> list[bytes]:
    """The packets of the first logical stream, joined across segments and pages."""
    packets: list[bytes] = []
    pending = bytearray()
    first_serial = None
    position = 0
    while position < len(data):
        if data[position : position + 4] != OGG_CAPTURE_PATTERN:
            raise damaged(f"no Ogg page starts at byte {position}")
        segments_start = position + OGG_PAGE_HEADER_BYTES
        if segments_start > len(data):
            raise damaged(f"the page header at byte {position} is cut short")
        lacing_values = data[segments_start : segments_start + data[segments_start - 1]]
        body_start = segments_start + len(lacing_values)
        page_end = body_start + sum(lacing_values)
        if len(lacing_values) < data[segments_start - 1] or page_end > len(data):
            raise damaged(f"the page at byte {position} runs past the end of the file")

        serial = data[position + 14 : position + 18]
        if first_serial is None:
            first_serial = serial
        if serial == first_serial:
            offset = body_start
            for size in lacing_values:
                pending += data[offset : offset + size]
                offset += size
                if size < FULL_LACING_VALUE:
                    packets.append(bytes(pending))
                    pending.clear()
        position = page_end
    return packets


def frame_sample_count(frame: bytes) -> int:
    """Samples per channel in one FLAC audio frame, read from its header."""
    if len(frame) < 6 or frame[0] != 0xFF or frame[1] & 0xFE != 0xF8:
        raise damaged("an audio packet does not start with a FLAC frame header")
    block_size_code = frame[2] >> 4

    # The frame or sample number is UTF-8-like: its leading one bits give its length.
    leading_ones = 0
    while leading_ones < 8 and frame[4] & (0x80 >> leading_ones):
        leading_ones += 1
    if leading_ones == 1 or leading_ones > 7:
        raise damaged("a FLAC frame header has a malformed frame number")
    block_size_at = 4 + max(leading_ones, 1)

    if block_size_code == 1:
        return 192
    if 2 <= block_size_code <= 5:
        return 576 << (block_size_code - 2)
    if block_size_code in (6, 7):
        size_bytes = frame[block_size_at : block_size_at + block_size_code - 5]
        if len(size_bytes) < block_size_code - 5:
            raise damaged("a FLAC frame header is cut short")
        return int.from_bytes(size_bytes, "big") + 1
    if block_size_code >= 8:
        return 256 << (block_size_code - 8)
    raise damaged("a FLAC frame header uses the reserved block size code 0")


def with_total_samples(streaminfo: bytes, total_samples: int) -> bytes:
    """The STREAMINFO block with its 36-bit total sample count replaced."""
    if total_samples >= 1 << TOTAL_SAMPLES_BITS:
        raise damaged(f"{total_samples} samples do not fit a FLAC STREAMINFO block")
    # Sample rate, channels, bits per sample and total samples share these 8 bytes.
    start = METADATA_HEADER_BYTES + 10
    packed = int.from_bytes(streaminfo[start : start + 8], "big")
    packed = (packed >> TOTAL_SAMPLES_BITS << TOTAL_SAMPLES_BITS) | total_samples
    return streaminfo[:start] + packed.to_bytes(8, "big") + streaminfo[start + 8 :]


def ogg_flac_to_native(data: bytes) -> bytes:
    """The native FLAC stream carried by an Ogg FLAC file."""
    packets = ogg_packets(data)
    first_packet = packets[0] if packets else b""
    streaminfo = first_packet[NATIVE_STREAM_OFFSET + len(NATIVE_FLAC_SIGNATURE) :]
    if (
        first_packet[NATIVE_STREAM_OFFSET : NATIVE_STREAM_OFFSET + 4]
        != NATIVE_FLAC_SIGNATURE
        or len(streaminfo) < METADATA_HEADER_BYTES + STREAMINFO_BYTES
        or streaminfo[0] & ~LAST_METADATA_FLAG != STREAMINFO_TYPE
    ):
        raise damaged("the first packet does not hold a FLAC STREAMINFO block")

    # Metadata blocks follow, one per packet, until one carries the last-block flag.
    metadata_blocks = [streaminfo]
    while not metadata_blocks[-1][0] & LAST_METADATA_FLAG:
        if len(metadata_blocks) >= len(packets) or not packets[len(metadata_blocks)]:
            raise damaged("the FLAC metadata blocks end without a last-block flag")
        metadata_blocks.append(packets[len(metadata_blocks)])
    audio_frames = packets[len(metadata_blocks) :]
    if not audio_frames:
        raise ProcessingError("the recording has no samples")

    # Encoders that stream Ogg FLAC often leave the total at 0 (unknown), and
    # libsndfile then fails at the end of the stream; the frames state the true count.
    total_samples = sum(frame_sample_count(frame) for frame in audio_frames)
    metadata_blocks[0] = with_total_samples(streaminfo, total_samples)
    return NATIVE_FLAC_SIGNATURE + b"".join(metadata_blocks) + b"".join(audio_frames)
