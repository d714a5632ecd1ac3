"""Static versions of the animation: an animated GIF and self-contained HTML."""

import base64
import io
import re

import matplotlib
import pytest
from PIL import Image

import mqlab as mq
from mqlab.export import save_gif, to_html

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run():
    net = mq.Network(seed=3)
    net.producer("p", interval=0.4, routing_key="jobs", count=10)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("c", queue="jobs", service=0.5)
    net.link("p", "hub", latency=0.3)
    return net.run(until=6)


def test_save_gif_writes_an_animated_gif_with_one_image_per_frame(run, tmp_path):
    path = save_gif(run, tmp_path / "run.gif", frames=6, fps=5, progress=False)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 6
        width, height = gif.size
        assert width == 768 and 300 < height < width  # 9.6 inches wide at 80 dpi
        assert gif.info["duration"] == 200
        gif.seek(1)
        second = gif.convert("RGB").tobytes()
        gif.seek(4)
        assert gif.convert("RGB").tobytes() != second


def test_run_save_gif_is_the_same_function(run, tmp_path):
    path = run.save_gif(tmp_path / "r.gif", frames=3, progress=False)
    with Image.open(path) as gif:
        assert gif.n_frames == 3


def test_to_html_holds_every_frame_inline_and_needs_no_network(run):
    page = to_html(run, frames=5, fps=4, progress=False)
    frames = re.search(r"var frames = (\[.*?\]);", page).group(1)
    jpegs = re.findall(r'"([A-Za-z0-9+/=]+)"', frames)
    assert len(jpegs) == 5
    assert all(base64.b64decode(j)[:2] == b"\xff\xd8" for j in jpegs)
    assert len(set(jpegs)) == 5
    with Image.open(io.BytesIO(base64.b64decode(jpegs[2]))) as im:
        assert im.size[0] == 960
        assert f'width="960" height="{im.size[1]}"' in page
    assert not re.search(r"https?://", page)
    assert "setInterval" in page and "250" in page  # 4 frames/s
    again = run.to_html(frames=5, fps=4, progress=False)
    assert again != page  # each animation gets its own id on the page ...
    assert re.sub(r"mqlab-\w+-\d+", "ID", again) == re.sub(r"mqlab-\w+-\d+", "ID", page)


def test_exports_check_their_arguments(run, tmp_path):
    with pytest.raises(ValueError, match="fps"):
        save_gif(run, tmp_path / "x.gif", fps=0)
    with pytest.raises(ValueError, match="frames"):
        to_html(run, frames=0)
    with pytest.raises(TypeError, match="Run or a Trace"):
        to_html("not a run")
