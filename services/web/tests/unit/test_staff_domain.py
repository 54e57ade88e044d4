"""The console's rules without a framework: the menu from the scopes, the reason's length, charts, durations."""

from dukcapil_web.domain.staff import bar_chart, duration, places_for, reason_problem


def test_the_menu_follows_the_scopes_in_the_order_of_a_working_day() -> None:
    operator = ["requests:submit", "requests:read", "shipments:handover", "statistics:read"]
    assert [place.path for place in places_for(operator)] == ["/staff/loket", "/staff/serah-terima", "/staff/statistik"]
    assert [place.path for place in places_for(["operations", "accounts:manage", "incidents:read"])] == [
        "/staff/insiden",
        "/staff/pesan-gagal",
        "/staff/akun",
    ]


def test_a_reason_takes_three_to_three_hundred_characters() -> None:
    assert reason_problem("ab") is not None
    assert reason_problem("   abc  ") is None
    assert reason_problem("x" * 301) is not None


def test_bars_scale_to_the_largest_value_and_an_empty_chart_has_none() -> None:
    chart = bar_chart("t", [("a", 2, "2"), ("b", 4, "4"), ("c", 0, "0")])
    assert [bar.width for bar in chart.bars] == [chart.plot_width / 2, chart.plot_width, 0]
    assert chart.bars[1].y > chart.bars[0].y
    assert bar_chart("t", []).bars == []


def test_lead_times_read_as_people_say_them() -> None:
    assert duration(None, "id") == "—"
    assert duration(0.001, "id") == "< 1 mnt" and duration(0.001, "en") == "< 1 min"
    assert duration(0.5, "id") == "30 mnt"
    assert duration(5.25, "en") == "5.2 h"
    assert duration(72, "id") == "3.0 hari"
