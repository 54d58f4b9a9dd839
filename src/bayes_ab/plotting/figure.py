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
    fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None)
    if getattr(fig.canvas, "manager", None) is not None:  # a figure made with pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def save_figures(figures: Mapping[str, Figure], folder: str | Path, *, dpi: int = DPI,
                 tight: bool = True) -> dict[str, Path]:
    """Write each figure as ``folder/<name>.png`` (see `save_figure`); ``{name: path}`` in
    the order given."""
    folder = Path(folder)
    return {name: save_figure(fig, folder / f"{name}.png", dpi=dpi, tight=tight)
            for name, fig in figures.items()}
