"""Static PNG maps in every run folder: one per indicator, three panels in the HTML maps' colour classes, hidden
zones in grey, flood water in a blue no zone class uses, the same bytes every time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sandbox import open_run, run_scenario
from sandbox.output.figures import (DPI, FLOOD_CLASSES, HIDDEN_LABEL, SIZE_IN, flood_color, indicator_figure,
                                    write_figures)
from sandbox.output.maps import scenario_maps
from sandbox.results import SIDES
from sandbox.scenarios.load import load_scenario
from tests.test_run import scenario
from tests.tiny import tiny_twin

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
WIDTH_PX, HEIGHT_PX = round(SIZE_IN[0] * DPI), round(SIZE_IN[1] * DPI)


@pytest.fixture(scope="module")
def kamppi(helsinki):
    return run_scenario(load_scenario(SCENARIOS / "senior-housing-kamppi.yaml"), twin=helsinki)


@pytest.fixture(scope="module")
def written(kamppi, tmp_path_factory) -> list[list[Path]]:
    """The figures of one run written twice, into two folders."""
    return [write_figures(tmp_path_factory.mktemp(name), kamppi.results, baseline=kamppi.baseline,
                          variant=kamppi.twin, changes=kamppi.changes) for name in ("first", "second")]


def figure_of(run, key: str):
    return indicator_figure(run.results, key, baseline=run.baseline, variant=run.twin, changes=run.changes)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
        return np.asarray(image.convert("RGB")).astype(int)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """A translucent fill as it shows on the white page."""
    return np.round(255 * (rgba[:3] * rgba[3] + (1 - rgba[3])))


def panel(image: np.ndarray, ax) -> np.ndarray:
    """The pixels inside one map's frame."""
    box = ax.get_position()
    return image[round((1 - box.y1) * HEIGHT_PX) + 2:round((1 - box.y0) * HEIGHT_PX) - 2,
                 round(box.x0 * WIDTH_PX) + 2:round(box.x1 * WIDTH_PX) - 2]


def count(area: np.ndarray, rgb: np.ndarray, tolerance: int = 3) -> int:
    return int((np.abs(area - rgb).max(axis=-1) <= tolerance).sum())


def test_one_png_per_indicator_and_the_same_bytes_every_time(kamppi, written):
    first, second = written
    assert [p.name for p in first] == [f"map-{key}.png" for key in kamppi.results.children]
    assert len(first) == 3
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
        assert b"Software" not in a.read_bytes()[:4096]  # no version or date that would change between runs


def test_three_maps_in_the_html_maps_classes(kamppi, written):
    for path, key in zip(written[0], kamppi.results.children):
        image = pixels(path)
        assert image.std() > 20  # not blank
        figure = figure_of(kamppi, key)
        maps = scenario_maps(kamppi.results, key, group="elderly", baseline=kamppi.baseline, variant=kamppi.twin,
                             overlays={side: ([], []) for side in SIDES})
        axes = {ax.get_label(): ax for ax in figure.axes}
        assert list(axes) == list(SIDES)
        for side in SIDES:
            zones = next(c for c in axes[side].collections if c.get_gid() == f"zones-{side}")
            values = maps[side].values.reindex(maps[side].twin.layers["zones"].index)
            expected = [np.array(maps[side].scale.color(float(v))) / 255 for v in values]
            assert np.allclose(zones.get_facecolor(), expected)  # the report's classes, zone by zone
            shown = {tuple(c) for c, v in zip(expected, values) if np.isfinite(v)}
            assert shown, f"{key} {side}: no zone with a value"
            area = panel(image, axes[side])
            for color in shown:  # each class in use is on the page, in its own panel
                assert count(area, over_white(np.array(color))) > 200, (key, side, color)


def test_hidden_zones_are_grey_and_the_legend_says_why(kamppi, written):
    key = "nearest-care-walk"
    node = kamppi.results[key].to_dataset()
    hidden = node["suppressed"].sel(group="elderly").to_pandas()
    zone = hidden[hidden].index[0]  # a zone with fewer than k elderly households
    assert np.isnan(node["share_reaching"].sel(group="elderly", zone=zone).to_numpy()).all()
    figure = figure_of(kamppi, key)
    maps = scenario_maps(kamppi.results, key, group="elderly", baseline=kamppi.baseline, variant=kamppi.twin,
                         overlays={side: ([], []) for side in SIDES})
    grey = np.array(maps["baseline"].scale.color(np.nan)) / 255
    position = list(maps["baseline"].twin.layers["zones"].index).index(zone)
    image = pixels(written[0][list(kamppi.results.children).index(key)])
    for ax in figure.axes:
        zones = next(c for c in ax.collections if c.get_gid() == f"zones-{ax.get_label()}")
        assert np.allclose(zones.get_facecolor()[position], grey)
        assert count(panel(image, ax), over_white(grey)) > 1000
    labels = [" ".join(text.get_text().split()) for legend in figure.legends for text in legend.get_texts()]
    assert HIDDEN_LABEL.format(k=5) == "hidden (fewer than 5 households, or hidden with them) or no residents"
    assert HIDDEN_LABEL.format(k=5) in labels
    titles = [" ".join(legend.get_title().get_text().split()) for legend in figure.legends]
    assert "(% of residents)" in titles[0] and "percentage points" in titles[1]  # units in the legend
    texts = " ".join(" ".join(t.get_text().split()) for t in figure.texts)
    assert "© OpenStreetMap contributors" in texts and "elderly residents (65+)" in texts
    assert "Maps at 10 min, the longest threshold computed" in texts
    assert [ax.get_title(loc="left") for ax in figure.axes][0] == "Today"


def test_a_flood_is_drawn_in_a_blue_no_zone_class_uses(helsinki, tmp_path):
    run = run_scenario(load_scenario(SCENARIOS / "flood-market-square.yaml"), twin=helsinki)
    assert run.twin.flood_depth is not None
    key = next(iter(run.results.children))
    figure = figure_of(run, key)
    labels = [" ".join(t.get_text().split()) for legend in figure.legends for t in legend.get_texts()]
    assert [label for label in labels if label.startswith("flood water")] == [
        f"flood water {label}" for _, _, label in FLOOD_CLASSES]
    maps = scenario_maps(run.results, key, group="elderly", baseline=run.baseline, variant=run.twin,
                         overlays={side: ([], []) for side in SIDES})
    classes = np.array([c for side in SIDES for c in maps[side].scale.colors]
                       + [maps["baseline"].scale.color(np.nan)[:3]])
    for _, drawn_as, _ in FLOOD_CLASSES:
        blue = np.array(flood_color(drawn_as)[:3]) * 255
        assert np.sqrt(((classes - blue) ** 2).sum(axis=1)).min() > 50, drawn_as
    image = pixels(write_figures(tmp_path, run.results, baseline=run.baseline, variant=run.twin,
                                 changes=run.changes)[0])
    axes = {ax.get_label(): ax for ax in figure.axes}

    def blue(side: str) -> int:  # light and mid blues: flood water over whatever lies beneath (the dark blue
        area = panel(image, axes[side])  # outlines of flooded buildings are on every map, as in the report)
        return int(((area[..., 2] - area[..., 0] > 50) & (area[..., 2] > 140)).sum())

    assert blue("baseline") == 0 and blue("scenario") > 1000 and blue("change") > 1000


def test_the_run_folder_holds_the_maps(tmp_path):
    spec = scenario("[{type: close_facility, names: [Clinic]}]",
                    indicators="[{measure: nearest, to: care, minutes: [5]}, {measure: nearest, to: parks}]",
                    groups="[all, children]")
    twin = tiny_twin()
    folder = run_scenario(spec, twin=twin).write(tmp_path / "out")
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["map-nearest-care-walk.png", "map-nearest-parks-walk.png"]
    for name in pngs:
        assert pixels(folder / name).std() > 20
    # No elderly group computed: the maps show the first group.
    figure = indicator_figure(open_run(folder), "nearest-care-walk", baseline=twin, variant=twin, group="elderly")
    assert "residents" in figure.texts[0].get_text() and "elderly" not in figure.texts[0].get_text()


def test_a_large_base_map_is_drawn_as_one_image(kamppi, monkeypatch):
    """Past BASE_VECTOR_VERTICES the buildings, parks and water are one image per twin under the zones (shared by a
    scenario that left them alone), in the base map's colours, and the legend keeps their rows."""
    from matplotlib.colors import to_rgba

    from sandbox.output import figures

    monkeypatch.setattr(figures, "BASE_VECTOR_VERTICES", 0)
    figure = figure_of(kamppi, "nearest-care-walk")
    for ax in figure.axes[:3]:
        assert not [c for c in ax.collections if str(c.get_gid()).startswith("base-")]
        (image,) = [i for i in ax.images if i.get_gid() == "base-image"]
        drawn = image.get_array().reshape(-1, 4)
        building = np.round(255 * np.array(to_rgba(figures.BASE_COLORS["buildings"])))
        assert (np.abs(drawn - building).max(axis=1) == 0).sum() > 1000  # the buildings' pixels
        assert image.zorder < next(c.zorder for c in ax.collections if c.get_gid() == f"zones-{ax.get_label()}")
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert {"buildings", "parks", "water"} <= set(labels)
