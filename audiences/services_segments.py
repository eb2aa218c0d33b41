"""Writes for segments: save the editor's name, description and rule tree; delete."""

from __future__ import annotations

from audiences.models import Segment
from audiences.segments import compile_rules


def segment_save(*, segment: Segment, rules: dict, actor) -> Segment:
    """Save a segment (new or existing) whose name and description the form has set.

    Raises SegmentRuleError for rules that do not compile, so nothing unusable is ever stored.
    """
    compile_rules(rules)
    segment.rules = rules
    if segment._state.adding:
        segment.created_by = actor
    segment.save()
    return segment


def segment_delete(*, segment: Segment) -> None:
    segment.delete()
