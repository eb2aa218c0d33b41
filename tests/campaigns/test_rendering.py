from __future__ import annotations

import pytest

from campaigns.rendering import TemplateSyntaxError, compile_template, template_errors

CONTEXT = {"first_name": "Asha", "city": "Pune", "last_name": "", "custom": {"plan": "Gold", "visits": 3}}


def test_variables_are_filled_from_the_contact():
    assert compile_template("Hi {{ first_name }} from {{city}}!").render(CONTEXT) == "Hi Asha from Pune!"


def test_a_fallback_is_used_when_the_value_is_missing_or_empty():
    tpl = compile_template('Dear {{ last_name | default: "customer" }}, {{ pincode | default:\'n/a\' }}')
    assert tpl.render(CONTEXT) == "Dear customer, n/a"


def test_custom_attributes_are_available_under_custom():
    assert compile_template("{{ custom.plan }} / {{ custom.visits }} / {{ custom.none }}").render(CONTEXT) == "Gold / 3 / "


def test_values_are_html_escaped_in_html_content_only():
    tpl = compile_template("<b>{{ first_name }}</b>")
    hostile = {"first_name": "<script>alert(1)</script>"}
    assert tpl.render(hostile, escape_html=True) == "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>"
    assert tpl.render(hostile) == "<b><script>alert(1)</script></b>"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ frist_name }}", "Unknown variable “frist_name”"),
        ("Hi {{ first_name ", "Unclosed or stray “{{”"),
        ("Hi first_name }}", "Unclosed or stray “}}”"),
        ("{% load static %}", "stray “{%”"),
        ("{{ first_name|upper }}", "Can't read"),
        ("{{ settings.SECRET_KEY }}", "Unknown variable “settings.SECRET_KEY”"),
    ],
)
def test_syntax_errors_are_reported_with_a_readable_message(source, message):
    with pytest.raises(TemplateSyntaxError) as err:
        compile_template(source)
    assert message in str(err.value)
    assert template_errors(source) == [str(err.value)]


def test_plain_text_without_variables_renders_unchanged():
    assert compile_template("50% off today only").render({}) == "50% off today only"
    assert template_errors("50% off") == []
