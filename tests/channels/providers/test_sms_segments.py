"""SMS segment counting: what a message will cost in parts."""

from __future__ import annotations

import pytest

from channels.providers.sms_segments import GSM7, UCS2, length, segments


@pytest.mark.parametrize(("text", "expected"), [
    ("", (GSM7, 1)),
    ("a" * 160, (GSM7, 1)),
    ("a" * 161, (GSM7, 2)),
    ("a" * 306, (GSM7, 2)),
    ("a" * 307, (GSM7, 3)),
    ("a" * 459, (GSM7, 3)),
    ("a" * 460, (GSM7, 4)),
    ("é" * 160, (GSM7, 1)),  # accented letters in the GSM alphabet stay 7-bit
    ("€" * 80, (GSM7, 1)),  # extension characters count twice: 160 septets
    ("€" * 81, (GSM7, 2)),
    ("a" * 159 + "[", (GSM7, 2)),  # 161 septets
    ("अ" * 70, (UCS2, 1)),
    ("अ" * 71, (UCS2, 2)),
    ("अ" * 134, (UCS2, 2)),
    ("अ" * 135, (UCS2, 3)),
])
def test_segment_counts_at_the_single_and_multipart_boundaries(text, expected):
    assert segments(text) == expected


def test_one_emoji_forces_the_whole_message_to_ucs2():
    assert segments("a" * 69 + "🙂") == (UCS2, 2)  # the emoji is a surrogate pair: 71 units
    assert segments("a" * 68 + "🙂") == (UCS2, 1)


def test_a_non_breaking_space_forces_ucs2():
    text = "Sale\u00a0today " + "a" * 60
    assert segments(text)[0] == UCS2
    assert segments(text.replace("\u00a0", " "))[0] == GSM7


def test_an_escape_pair_is_never_split_across_parts():
    # 152 plain septets then '€' (2 septets) would straddle the 153-septet part boundary.
    text = "a" * 152 + "€" + "a" * 152
    assert length(text) == 306
    assert segments(text) == (GSM7, 3)


def test_an_emoji_is_never_split_across_ucs2_parts():
    text = "अ" * 66 + "🙂" + "अ" * 66  # 134 units, but the emoji cannot straddle parts
    assert segments(text) == (UCS2, 3)
