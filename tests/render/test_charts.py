"""render/charts.py: SVG built on the server, escaped, with a table of the same numbers."""

from __future__ import annotations

import lxml.etree

from syndication.render.charts import Chart, Series, svg

HOSTILE = "<script>alert(1)</script>&\"'"


def chart(**over: object) -> Chart:
    values = {
        "id": "ch-x",
        "title": "Sends",
        "desc": "Sent and failed",
        "labels": ("11-01", "11-02", "11-03"),
        "series": (Series("Sent", (10.0, None, 30.0)), Series("Failed", (1.0, 2.0, 0.0))),
    }
    return Chart(**{**values, **over})  # type: ignore[arg-type]


def test_every_text_is_escaped_and_the_svg_is_well_formed() -> None:
    c = chart(
        title=HOSTILE,
        desc=HOSTILE,
        labels=(HOSTILE, "b", "c"),
        threshold=5.0,
        threshold_label=HOSTILE,
    )
    c = Chart(**{**c.__dict__, "series": (Series(HOSTILE, (1.0, 2.0, 3.0)),)})
    for kind in ("bars", "lines"):
        out = svg(Chart(**{**c.__dict__, "kind": kind}))
        assert "<script>" not in out
        root = lxml.etree.fromstring(out.encode())  # well-formed XML: nothing broke out
        assert root.get("role") == "img"
        assert root.findtext("{*}title") == HOSTILE or root.findtext("title") == HOSTILE


def test_title_desc_and_table_say_the_same_numbers() -> None:
    c = chart()
    out = svg(c)
    assert '<title id="ch-x-t">Sends</title>' in out and "<desc" in out
    assert c.columns == ["Sent", "Failed"]
    assert c.rows == [("11-01", ["10", "1"]), ("11-02", ["–", "2"]), ("11-03", ["30", "0"])]
    assert out.count("<rect") == 4  # zero and unknown values draw nothing


def test_a_threshold_line_and_percentages() -> None:
    c = chart(
        kind="lines",
        unit="%",
        threshold=0.3,
        threshold_label="0.3 % limit",
        series=(Series("Complaints", (0.1, 0.5, None)),),
    )
    out = svg(c)
    assert 'class="limit"' in out and "0.3 % limit" in out
    assert c.rows[1] == ("11-02", ["0.50 %"])
    assert out.count("<polyline") == 1  # the gap ends the line
