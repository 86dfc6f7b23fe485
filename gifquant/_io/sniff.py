"""What a file is from its first bytes (stdlib only: the command line looks before importing)."""

from __future__ import annotations

Y4M_MAGIC = b"YUV4MPEG2"
IMAGE_MAGIC = (b"GIF87a", b"GIF89a", b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")


def is_video_container(head: bytes) -> bool:
    """Whether ``head`` starts like a video container ffmpeg reads (mp4/mov, Matroska/WebM,
    AVI, MPEG-TS/PS, FLV, Ogg, ASF/WMV): checked for streams, which are spooled to disk, so
    that a pipe of anything else is refused at once instead of filling the disk."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
        or head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba"))
        or head.startswith((b"\x00\x00\x01\xb3", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"))
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or (len(head) > 0 and head[0] == 0x47)  # MPEG-TS sync byte
    )


def file_kind(head: bytes) -> str:
    """y4m, image (Pillow reads it) or video (ffmpeg does), from a file's first 16 bytes."""
    if head.startswith(Y4M_MAGIC):
        return "y4m"
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "video"
