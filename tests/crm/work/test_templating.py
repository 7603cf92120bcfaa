"""The email template language: placeholders from the offered dicts only, nothing else."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.templating import (
    MAX_TEMPLATE_CHARS,
    VARIABLES,
    TemplateError,
    render,
    template_check,
    template_variables,
)

CONTEXT = {
    "client": {"first_name": "Ana", "last_name": "Lee", "full_name": "Ana Lee", "email": "a@x.io"},
    "job": {"name": "Lee wedding", "event_date": dt.date(2027, 6, 5), "location": "<Barn & Co>"},
    "studio": {"name": "Light Studio", "url": "https://light.example"},
}


def test_placeholders_render_from_the_offered_dicts():
    text = "Hi {{ client.first_name }}, see you on {{job.event_date}} at {{ job.location }}!"
    assert render(text, CONTEXT) == "Hi Ana, see you on 5 June 2027 at <Barn & Co>!"


def test_html_version_escapes_values_but_not_the_template():
    text = "<p>{{ job.location }}</p>"
    assert render(text, CONTEXT, escape_html=True) == "<p>&lt;Barn &amp; Co&gt;</p>"


def test_a_client_name_with_markup_is_inert_in_html():
    ctx = {"client": {"first_name": "<script>alert(1)</script>"}}
    out = render("<b>{{ client.first_name }}</b>", ctx, escape_html=True)
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_unknown_or_missing_values_render_empty():
    assert render("[{{ gallery.url }}][{{ nope.x }}][{{ client }}]", CONTEXT) == "[][][]"


def test_filters():
    assert render('{{ job.event_date | date:"%d/%m/%Y" }}', CONTEXT) == "05/06/2027"
    assert render("{{ client.first_name | upper }}", CONTEXT) == "ANA"
    assert render('{{ gallery.url | default:"soon" }}', CONTEXT) == "soon"
    when = {"job": {"event_date": dt.datetime(2027, 6, 5, 14, 30, tzinfo=dt.UTC)}}
    assert render("{{ job.event_date }}", when) == "5 June 2027, 14:30"


def test_objects_offered_by_mistake_are_never_introspected():
    class Evil:
        name = "secret"

        def delete(self):  # pragma: no cover - must never be called
            raise AssertionError("called")

    ctx = {"job": Evil(), "client": {"first_name": Evil()}}
    assert render("{{ job.name }}{{ job.delete }}{{ client.first_name }}", ctx) == ""


@pytest.mark.parametrize(
    "text",
    [
        "{{ client.__class__ }}",
        "{{ client.__class__.__mro__ }}",
        "{{ client._private }}",
        "{{ job.delete() }}",
        "{{ client['first_name'] }}",
        "{% load static %}",
        "{% for i in x %}{% for j in x %}{{ i }}{% endfor %}{% endfor %}",
        "{# comment #}",
        "{{ client.first_name",
        "{{ client.first_name | safe }}",
        '{{ client.first_name | attr:"__class__" }}',
        '{{ job.event_date | date:"%c" }}',
        "{{ }}",
        "{{ 1 + 1 }}",
    ],
)
def test_hostile_templates_are_refused(text):
    with pytest.raises(TemplateError) as err:
        template_check(text)
    assert err.value.code == "template_syntax"
    with pytest.raises(TemplateError):
        render(text, CONTEXT)


def test_unknown_variable_is_named_at_save_time():
    with pytest.raises(TemplateError) as err:
        template_check("Hi {{ client.first_name }} {{ job.delete }} {{ client.frist_name }}")
    assert err.value.code == "unknown_variable"
    assert err.value.name == "client.frist_name"


def test_every_offered_variable_passes_the_check():
    template_check(" ".join("{{ " + name + " }}" for name in sorted(VARIABLES)))
    assert template_variables("{{ job.name }}{{job.name|upper}}") == {"job.name"}


def test_huge_templates_are_refused():
    with pytest.raises(TemplateError):
        template_check("x" * (MAX_TEMPLATE_CHARS + 1))


@given(st.text(max_size=200))
def test_any_text_either_renders_or_is_refused_cleanly(text):
    try:
        out = render(text, CONTEXT, escape_html=True)
    except TemplateError:
        return
    assert isinstance(out, str)
