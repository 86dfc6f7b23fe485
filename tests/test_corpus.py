"""The real corpus (skipped when ../shared/corpus is absent); coherence and flicker on the corpus
are in test_coherence."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CORPUS, assert_decoders_agree, corpus_file, read_gif

from gifquant._cli import main

EDGE = sorted(p.name for p in (CORPUS / "edge").glob("*.gif")) if (CORPUS / "edge").exists() else []
REFUSED = {"zero_width.gif", "decompression_bomb.gif"}


@pytest.mark.parametrize("name", [n for n in EDGE if n not in REFUSED])
def test_edge_gifs_convert_keeping_frames_delays_and_loop(name, tmp_path):
    src = corpus_file(f"edge/{name}")
    out = tmp_path / "o.gif"
    assert main([str(src), str(out), "-k", "4", "-q"]) == 0
    sf, sd, sl = read_gif(src)
    of, od, ol = read_gif(out)
    assert len(of) == len(sf)
    assert [round((d or 0) / 10) for d in sd] == [round(d / 10) for d in od]
    assert ol == sl


@pytest.mark.parametrize("name", [n for n in EDGE if n not in REFUSED])
def test_edge_gifs_at_256_colours_look_like_the_source_to_pillow_and_ffmpeg(name, tmp_path):
    # Every edge file has at most 256 colours a frame once composited, so -k 256 is lossless:
    # disposal, interlace, offsets, transparency and local palettes all read and written right.
    src = corpus_file(f"edge/{name}")
    out = tmp_path / "o.gif"
    assert main([str(src), str(out), "-k", "256", "-q"]) == 0
    source, _, _ = read_gif(src)
    got, _, _ = read_gif(out)
    for i, (a, b) in enumerate(zip(source, got, strict=True)):
        a = a[: b.shape[0], : b.shape[1]]  # Pillow grows the canvas for out-of-bounds frames
        opaque = a[..., 3] >= 128
        np.testing.assert_array_equal(opaque, b[..., 3] >= 128, err_msg=f"alpha, frame {i}")
        np.testing.assert_array_equal(a[opaque, :3], b[opaque, :3], err_msg=f"rgb, frame {i}")
    assert_decoders_agree(out)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_edge_gifs_refused_cleanly(name, tmp_path, capsys):
    src = corpus_file(f"edge/{name}")
    assert main([str(src), str(tmp_path / "o.gif")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1
    assert not (tmp_path / "o.gif").exists()
