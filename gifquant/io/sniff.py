"""What a file is from its first bytes (stdlib only: the command line looks before importing)."""

from __future__ import annotations

Y4M_MAGIC = b"YUV4MPEG2"
IMAGE_MAGIC = (b"GIF87a", b"GIF89a", b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")


def file_kind(head: bytes) -> str:
    """y4m, image (Pillow reads it) or video (ffmpeg does), from a file's first 16 bytes."""
    if head.startswith(Y4M_MAGIC):
        return "y4m"
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "video"
