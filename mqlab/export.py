"""Turn a run into pictures that need no kernel: frames, an animated GIF, an HTML page.

All of them come from the same :class:`~mqlab.scene.Scene` as the Player widget, so a GIF in
the README shows exactly what a student sees in the notebook.

- :func:`save_gif` writes an animated GIF (for READMEs, slides and ``images/``);
- :func:`to_html` returns one self-contained piece of HTML: the frames as base64 JPEG and a few
  lines of JavaScript, no kernel, no network access needed.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mqlab.scene import Scene, frame_times, render_each, render_frames
from mqlab.trace import Trace, as_trace

__all__ = ["save_gif", "to_html"]

_page_ids = itertools.count(1)


def save_gif(run_or_trace: Any, path: str | Path, frames: int = 100, fps: float = 10,
             dpi: int = 80, progress: Any = "auto", start: float | None = None,
             stop: float | None = None, **scene_options: Any) -> Path:
    """Write the run's animation to an animated GIF at ``path`` and return the path.

    ``frames`` evenly spaced times from ``start`` to ``stop`` seconds (default: the whole
    run; as for the Player), shown at ``fps`` frames per second, looping. Options such
    as ``color_by`` or ``metrics`` go to :class:`~mqlab.scene.Scene`.

    >>> save_gif(run, "images/fanout.gif", frames=80)   # doctest: +SKIP
    PosixPath('images/fanout.gif')
    """
    from PIL import Image

    trace = as_trace(run_or_trace, need_graph=True)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    times = frame_times(trace.duration, frames, start, stop)
    scene = _scene(trace, times, dpi=dpi, **scene_options)

    def frame(t: float) -> Any:
        # one small palette per frame: GIF allows 256 colours, these pictures need far fewer
        return scene.image(t).quantize(colors=96, method=Image.Quantize.FASTOCTREE,
                                       dither=Image.Dither.NONE)

    images = render_each(times, frame, progress, "GIF")
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                   duration=round(1000 / fps), optimize=False)
    return path


def _scene(trace: Trace, times: Sequence[float], **options: Any) -> Scene:
    """A Scene whose drop marks fade over a few frames, whatever the frame spacing."""
    step = times[1] - times[0] if len(times) > 1 else max(trace.duration, 1.0)
    options.setdefault("fade", 3 * step)
    return Scene(trace, times=times, **options)  # a long run is read only for these frames


def to_html(run_or_trace: Any, frames: int = 100, fps: float = 10, quality: int = 75,
            progress: Any = "auto", start: float | None = None, stop: float | None = None,
            **scene_options: Any) -> str:
    """The animation as one self-contained piece of HTML (frames inline, a tiny JS player).

    Works offline and without a kernel: write it to a ``.html`` file or show it with
    ``IPython.display.HTML``. Buttons: step back, play/pause, step forward; a time slider.
    ``start``, ``stop``: the window of the run to show, in seconds, as for the Player.

    >>> Path("run.html").write_text(to_html(run, frames=60))   # doctest: +SKIP
    """
    trace = as_trace(run_or_trace, need_graph=True)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    times = frame_times(trace.duration, frames, start, stop)
    scene = _scene(trace, times, **scene_options)
    jpegs = render_frames(scene, times, quality, progress, label="HTML")
    encoded = [base64.b64encode(b).decode("ascii") for b in jpegs]
    # an id unique on the page (two animations in one notebook must not share one)
    uid = f"mqlab-{hashlib.sha1(b''.join(jpegs)).hexdigest()[:10]}-{next(_page_ids)}"
    width, height = scene.size
    return _HTML.format(
        uid=uid, width=width, height=height, last=len(jpegs) - 1, first=encoded[0],
        t0=f"{times[0]:.2f}", frames=json.dumps(encoded), times=json.dumps(
            [round(float(t), 3) for t in times]), interval=round(1000 / fps))


# The player: an <img> whose source is swapped between inline JPEG frames.
_HTML = """<div id="{uid}" style="font-family:sans-serif;max-width:{width}px">
<img alt="animation of the run" width="{width}" height="{height}"
 style="max-width:100%;height:auto" src="data:image/jpeg;base64,{first}">
<div style="display:flex;align-items:center;gap:6px">
<button data-do="back" title="step back">&#9664;&#9646;</button>
<button data-do="play" title="play / pause">&#9654;</button>
<button data-do="next" title="step forward">&#9646;&#9654;</button>
<input type="range" min="0" max="{last}" value="0" style="flex:1">
<span style="font-family:monospace;min-width:7em">t = {t0} s</span>
</div>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  var frames = {frames};
  var times = {times};
  var img = root.querySelector("img"), slider = root.querySelector("input");
  var label = root.querySelector("span"), playButton = root.querySelector("[data-do=play]");
  var i = 0, timer = null;
  function show(k) {{
    i = (k + frames.length) % frames.length;
    img.src = "data:image/jpeg;base64," + frames[i];
    slider.value = i;
    label.textContent = "t = " + times[i].toFixed(2) + " s";
  }}
  function pause() {{ clearInterval(timer); timer = null; playButton.innerHTML = "&#9654;"; }}
  function play() {{
    timer = setInterval(function () {{ show(i + 1); }}, {interval});
    playButton.innerHTML = "&#10074;&#10074;";
  }}
  root.querySelector("[data-do=back]").onclick = function () {{ pause(); show(i - 1); }};
  root.querySelector("[data-do=next]").onclick = function () {{ pause(); show(i + 1); }};
  playButton.onclick = function () {{ if (timer) {{ pause(); }} else {{ play(); }} }};
  slider.oninput = function () {{ pause(); show(parseInt(slider.value, 10)); }};
}})();
</script>
</div>
"""
