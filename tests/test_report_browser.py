"""The report renders in a real browser: headless Chromium takes a screenshot, the key
text is in the rendered DOM and every embedded figure decodes (naturalWidth > 0)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bayes_ab.report import render_report

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).parent / "fixtures" / "results_example.json"


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip("headless Chromium not found (install Debian's `chromium`; .ci/run does)",
                allow_module_level=True)

#: Injected into a test copy of the page only: after load, the page's title reports how many
#: images it has and how many failed to decode, so --dump-dom can read it back.
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  document.title = 'PROBE images=' + imgs.length + ' broken=' + broken +
                   ' height=' + document.body.scrollHeight;
});
</script>"""


def _run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tmp = tmp_path_factory.mktemp("browser")
    figures = {}
    # help_completion_forest and conversion_trace sit inside collapsed <details>: they must
    # still decode.
    for name, color in (("conversion_posterior", "tab:blue"), ("help_completion_forest", "tab:red"),
                        ("extra_diagnostic_plot", "tab:green"), ("conversion_trace", "tab:gray")):
        fig, ax = plt.subplots(figsize=(4, 2.5), dpi=60)
        ax.fill_between([0, 1, 2, 3], [0, 2, 1, 3], color=color)
        ax.set_title(name)
        figures[name] = tmp / f"{name}.png"
        fig.savefig(figures[name])
        plt.close(fig)
    results = json.loads(FIXTURE.read_text())
    html_path, _ = render_report(results, figures=figures, out_dir=tmp / "out")

    probe = html_path.with_name("report_probe.html")
    probe.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    dom = _run_chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp)

    shot = tmp / "report.png"
    _run_chromium([f"--screenshot={shot}", "--window-size=1280,4000", html_path.as_uri()], tmp)
    return {"dom": dom.stdout, "stderr": dom.stderr, "screenshot": shot, "n_figures": len(figures)}


def test_key_text_in_rendered_dom(rendered):
    dom = rendered["dom"]
    assert dom, f"no DOM dumped; chromium said: {rendered['stderr'][-2000:]}"
    assert "Double down: make the Test experience the default for everyone." in dom
    assert "There is a 99.6% probability that Test converts better than Control." in dom
    for title in ("Success metric: Conversion", "Success metric: CS engagement",
                  "Ratio metrics", "Segments", "Does the prior matter?",
                  "Exploration: is CS better than OTHER?", "Appendix: sampler diagnostics",
                  "Data-quality findings", "Glossary"):
        assert title in dom
    assert "None of the 4 segments by join period credibly differs from the overall lift" in dom
    assert "Help flags per customer: Test 0.589 vs Control 0.573 (fewer help flags is better)." \
        in dom
    # Collapsed detail starts closed: the page opens on the answers, not the appendices.
    assert "<details><summary>Trace and rank plots (1 figure)</summary>" in dom


def test_every_image_loads(rendered):
    m = re.search(r"<title>PROBE images=(\d+) broken=(\d+) height=(\d+)</title>", rendered["dom"])
    assert m, "the load probe did not run"
    images, broken, height = map(int, m.groups())
    assert images == rendered["n_figures"]
    assert broken == 0
    assert height > 2000  # a full page of content, not an error page


def test_screenshot_is_a_real_page(rendered):
    from PIL import Image

    shot = rendered["screenshot"]
    assert shot.is_file(), "chromium wrote no screenshot"
    assert shot.stat().st_size > 20_000
    with Image.open(shot) as img:
        assert img.size == (1280, 4000)
        gray = img.convert("L")
        hist = gray.histogram()
    dark = sum(hist[:128])  # text and figure pixels
    assert dark > 5_000, "the screenshot is (almost) blank"
    # The green recommendation callout (double down) is drawn near the top.
    with Image.open(shot) as img:
        top = img.convert("RGB").crop((0, 0, 1280, 900))
        greens = sum(1 for r, g, b in top.getdata() if g > 240 and r < 245 and b < 245
                     and (r, g, b) == (238, 248, 241))
    assert greens > 1_000
