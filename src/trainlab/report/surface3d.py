"""An interactive 3-D surface block, drawn offline by plotly's JavaScript.

`Surface3D` is a report block (see `report.blocks`): in report.html a rotatable,
zoomable 3-D view of one or more surfaces ``z[i][j]`` over ``(x[j], y[i])``, optionally
with lines on them (optimizer paths); in report.md one line pointing at the HTML page
(the PNG contour of the same data stays for print).

The JavaScript is the ``plotly.min.js`` that the `plotly` Python package ships (the
``interactive`` extra), written ONCE per runs site as ``<runs-dir>/_assets/plotly.min.js``
by `site_asset` and referenced relatively from each report: no network, no CDN, no 4.8 MB
copy per report. A run written with ``--out`` outside a runs folder is a site of its
own (``<run>/_assets/``). Without plotly the block says how to get the 3-D view.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trainlab.report.blocks import Block
from trainlab.report.html import esc, inline_markdown
from trainlab.run_folder import atomic_write_bytes

ASSETS = "_assets"
PLOTLY_JS = "plotly.min.js"


def plotly_js_source() -> Path | None:
    """Where the installed `plotly` package keeps its ``plotly.min.js`` (None without it)."""
    found = importlib.util.find_spec("plotly")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "package_data" / PLOTLY_JS
    return path if path.is_file() else None


def site_root(run_path: Path, exp_id: str) -> Path:
    """The runs folder a run folder belongs to, or the run folder itself.

    ``runs/<exp_id>/<stamp>/`` (and its ``replicates/seed-S/``) belong to ``runs/``;
    any other folder (``--out``) is its own site.
    """
    run = Path(run_path).resolve()
    if run.parent.name == "replicates" and run.name.startswith("seed-"):
        run = run.parent.parent
    return run.parent.parent if run.parent.name == exp_id else run


def site_asset(run_path: Path, exp_id: str, name: str = PLOTLY_JS) -> str | None:
    """Put plotly's script in the site's ``_assets/`` once; its href from ``run_path``.

    The file is copied when missing or of another size (a newer plotly); None when
    plotly is not installed.
    """
    source = plotly_js_source() if name == PLOTLY_JS else None
    if source is None:
        return None
    target = site_root(run_path, exp_id) / ASSETS / name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, source.read_bytes())
    return Path(os.path.relpath(target, Path(run_path).resolve())).as_posix()


def _finite(rows: Iterable) -> list:
    """Nested lists of numbers with NaN and ±inf as None (JSON null: a gap in plotly)."""
    out = []
    for v in rows:
        if isinstance(v, (list, tuple)):
            out.append(_finite(v))
        else:
            f = float(v)
            out.append(f if math.isfinite(f) else None)
    return out


def _script_json(value) -> str:
    # inside <script>, "</" would end the element: JSON may escape "<" as \u003c
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


@dataclass
class Surface3D(Block):
    """Surfaces ``{label: z (len(y), len(x))}`` over ``x``, ``y``, with optional paths.

    ``paths``: ``{label: [[x, y, z], ...]}`` lines drawn on the surfaces; ``script``: the
    href of plotly.min.js (`site_asset`), None when plotly is missing; ``name`` makes the
    element id (``surface3d-NAME``); ``caption`` (markdown subset) goes below.
    """

    name: str
    x: Sequence[float]
    y: Sequence[float]
    surfaces: dict[str, Sequence[Sequence[float]]]
    caption: str = ""
    script: str | None = None
    labels: tuple[str, str, str] = ("x", "y", "loss")
    paths: dict[str, Sequence[Sequence[float]]] = field(default_factory=dict)
    log_z: bool = False
    title: str | None = None

    @property
    def element_id(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.name)
        return f"surface3d-{safe}"

    def render_head(self) -> Iterable[str]:
        return [f"<script src='{esc(self.script)}'></script>"] if self.script else []

    def render_markdown(self) -> list[str]:
        return [f"*Interactive 3-D view ({', '.join(self.surfaces)}): open report.html.*", ""]

    def _traces(self) -> list[dict]:
        scales = ["Viridis", "Cividis", "Plasma", "Greys"]
        traces = [{"type": "surface", "name": label, "x": _finite(self.x), "y": _finite(self.y),
                   "z": _finite(z), "colorscale": scales[i % len(scales)],
                   "opacity": 1.0 if i == 0 else 0.6, "showscale": i == 0}
                  for i, (label, z) in enumerate(self.surfaces.items())]
        for k, (label, pts) in enumerate(self.paths.items()):
            cols = list(zip(*pts, strict=True)) if pts else [[], [], []]
            traces.append({"type": "scatter3d", "mode": "lines+markers", "name": label,
                           "x": _finite(cols[0]), "y": _finite(cols[1]),
                           "z": _finite(cols[2]), "marker": {"size": 2},
                           "line": {"width": 5, "color": f"hsl({(k * 110) % 360},80%,50%)"}})
        return traces

    def render_html(self) -> str:
        below = f"<p class='muted'>{inline_markdown(self.caption)}</p>" if self.caption else ""
        if not self.script:
            return ("<p class='muted'>The interactive 3-D view needs the plotly package "
                    "(<code>pip install 'trainlab[interactive]'</code>); the contour figure "
                    "shows the same data.</p>" + below)
        zx, zy, zz = self.labels
        layout = {"margin": {"l": 0, "r": 0, "t": 10, "b": 0}, "height": 520,
                  "paper_bgcolor": "rgba(0,0,0,0)", "showlegend": True,
                  "scene": {"xaxis": {"title": {"text": zx}}, "yaxis": {"title": {"text": zy}},
                            "zaxis": {"title": {"text": zz},
                                      "type": "log" if self.log_z else "linear"}}}
        eid = self.element_id
        js = (f"(function(){{var el=document.getElementById({_script_json(eid)});"
              "if(typeof Plotly==='undefined'){el.textContent='plotly.min.js did not load "
              "(the runs folder\\u2019s _assets/ is missing)';return;}"
              f"Plotly.newPlot(el,{_script_json(self._traces())},{_script_json(layout)},"
              "{responsive:true,displaylogo:false});})();")
        return (f"<div class='surface3d' id='{esc(eid)}' style='width:100%;min-height:520px'>"
                f"</div><script>{js}</script>{below}")
