"""Making and saving figures: the one place a figure becomes a file.

Plotting functions build a `matplotlib.figure.Figure` and return it; none of them saves,
shows or picks a backend. Figures made here are not registered with pyplot (the way the
matplotlib docs recommend for servers), so nothing accumulates in pyplot's figure list and
Jupyter shows a returned figure once, as the cell's value. The commands that write output
call `save_figure` / `save_figures` at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Resolution of the PNGs the analysis, compare, monitor and plan commands write.
DPI = 110


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             **kwargs: Any) -> tuple[Figure, Any]:
    """``(figure, axes)`` as `matplotlib.pyplot.subplots` returns them, on a figure that
    pyplot does not manage (no backend involved until it is saved)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def detach(axes: Any) -> Figure:
    """The figure of an ArviZ plot (an Axes or an array of them), closed in pyplot: ArviZ
    draws through pyplot; closing hands the figure to the caller alone (pyplot keeps no
    reference, Jupyter does not show it a second time)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig = getattr(axes, "figure", None)
    if fig is None:
        fig = np.asarray(axes, dtype=object).ravel()[0].figure
    plt.close(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = DPI, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (its folder is created), cropped to its content when
    ``tight``, then close it if pyplot manages it. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (tight and _save_cropped_png(fig, path, dpi)):
        fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None)
    if getattr(fig.canvas, "manager", None) is not None:  # a figure made with pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def _save_cropped_png(fig: Figure, path: Path, dpi: float) -> bool:
    """``savefig(path, dpi=dpi, bbox_inches="tight")`` of a PNG in one draw instead of two.

    matplotlib's tight save draws the figure twice: once, without rendering, to measure
    its content, then again, shifted, into the cropped canvas. Nearly all of a draw's
    time is that Python-level work (ticks, text layout), not the rasterising. Here the
    figure is drawn once at full size, its content measured on that draw, and the pixels
    cut out: the same picture (to sub-pixel placement) in about half the time. The
    padding (``savefig.pad_inches``) that falls outside the canvas is filled with the
    figure's face colour, as the tight save leaves it. Returns False, having written
    nothing, where this cannot give the tight save's picture: a format other than PNG,
    non-default ``savefig`` colours or transparency, or content drawn outside the
    figure's own area (the tight save widens the canvas to show it).
    """
    import matplotlib as mpl
    import matplotlib.image
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rc = mpl.rcParams
    if (path.suffix.lower() != ".png" or rc["savefig.transparent"]
            or any(str(rc[f"savefig.{p}"]) != "auto" for p in ("facecolor", "edgecolor"))
            or rc["savefig.pad_inches"] == "layout"):
        return False
    old_canvas, old_dpi = fig.canvas, fig.dpi
    try:
        canvas = FigureCanvasAgg(fig)
        fig.dpi = dpi
        canvas.draw()
        box = fig.get_tightbbox(canvas.get_renderer())
        width, height = canvas.get_width_height()
        x0, y0, x1, y1 = (np.asarray(box.extents) * dpi).tolist()
        half = 0.5  # a pixel's rounding either way
        if not (x0 >= -half and y0 >= -half and x1 <= width + half and y1 <= height + half):
            return False
        pad = float(rc["savefig.pad_inches"]) * dpi
        # The tight save's canvas: the padded box from its lower left corner, its size
        # cut to whole pixels as the Agg canvas cuts it.
        left, bottom = round(x0 - pad), round(y0 - pad)
        right, top = left + int(x1 - x0 + 2 * pad), bottom + int(y1 - y0 + 2 * pad)
        pixels = np.asarray(canvas.buffer_rgba())
        out = np.empty((top - bottom, right - left, 4), dtype=np.uint8)
        out[...] = np.round(np.asarray(mpl.colors.to_rgba(fig.get_facecolor())) * 255)
        cl, cr, cb, ct = max(left, 0), min(right, width), max(bottom, 0), min(top, height)
        # Rows count down from the top in the buffer, up from the bottom in the box.
        out[top - ct:top - cb, cl - left:cr - left] = pixels[height - ct:height - cb, cl:cr]
        matplotlib.image.imsave(path, out, format="png", dpi=dpi)
        return True
    finally:
        fig.dpi = old_dpi
        fig.set_canvas(old_canvas)


def save_figures(figures: Mapping[str, Figure], folder: str | Path, *, dpi: int = DPI,
                 tight: bool = True) -> dict[str, Path]:
    """Write each figure as ``folder/<name>.png`` (see `save_figure`); ``{name: path}`` in
    the order given."""
    folder = Path(folder)
    return {name: save_figure(fig, folder / f"{name}.png", dpi=dpi, tight=tight)
            for name, fig in figures.items()}
