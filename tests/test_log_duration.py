from __future__ import annotations

import pytest

from kitcore.log import format_duration, format_duration_ns

NS, US, MS, S = 1, 1_000, 1_000_000, 1_000_000_000
MINUTE, HOUR = 60 * S, 3600 * S


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        # Go's own table for time.Duration.String.
        (0, "0s"),
        (1 * NS, "1ns"),
        (1100 * NS, "1.1µs"),
        (2200 * US, "2.2ms"),
        (3300 * MS, "3.3s"),
        (4 * MINUTE + 5 * S, "4m5s"),
        (4 * MINUTE + 5001 * MS, "4m5.001s"),
        (5 * HOUR + 6 * MINUTE + 7001 * MS, "5h6m7.001s"),
        (8 * MINUTE + 1 * NS, "8m0.000000001s"),
        ((1 << 63) - 1, "2562047h47m16.854775807s"),
        (-(1 << 63), "-2562047h47m16.854775808s"),
        # Unit boundaries and trailing zeros.
        (999, "999ns"),
        (1000, "1µs"),
        (999_999, "999.999µs"),
        (1_000_000, "1ms"),
        (1_230_000, "1.23ms"),
        (999_999_999, "999.999999ms"),
        (1 * S, "1s"),
        (59 * S + 999_999_999, "59.999999999s"),
        (60 * S, "1m0s"),
        (HOUR, "1h0m0s"),
        (-1500, "-1.5µs"),
    ],
)
def test_durations_are_written_as_go_writes_them(ns: int, expected: str) -> None:
    assert format_duration_ns(ns) == expected


def test_seconds_are_rounded_to_the_nanosecond() -> None:
    assert format_duration(0.0000125) == "12.5µs"
    assert format_duration(1.5) == "1.5s"
    assert format_duration(2.4e-10) == "0s"
    assert format_duration(90.0) == "1m30s"
