"""QuickOutputMixin: the same output as DRF's field-by-field walk, on every kind of field."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from crm.models import Contact
from picpick.core.serializers import QuickOutputMixin
from picpick.testing.factories import ContactFactory, JobFactory

pytestmark = pytest.mark.django_db


class _Email(serializers.Serializer):
    email = serializers.CharField()
    is_primary = serializers.BooleanField()


def _shape(quick: bool):
    class Shape(serializers.ModelSerializer):
        emails = _Email(many=True)
        studio_name = serializers.CharField(source="studio.name")
        whole = serializers.SerializerMethodField()
        missing = serializers.CharField(source="no_such_attribute", required=False)
        count = serializers.IntegerField(source="visits", required=False, default=0)
        ratio = serializers.IntegerField(source="marketing_consent")

        class Meta:
            model = Contact
            fields = [
                "id",
                "studio",
                "first_name",
                "last_name",
                "source",
                "custom_fields",
                "marketing_consent",
                "marketing_consent_at",
                "merged_into",
                "merged_at",
                "created_at",
                "emails",
                "studio_name",
                "whole",
                "missing",
                "count",
                "ratio",
            ]

        def get_whole(self, contact) -> str:
            return f"{contact.first_name}!"

    if quick:
        return type("QuickShape", (QuickOutputMixin, Shape), {})
    return Shape


def _json(data) -> object:
    rendered = JSONRenderer().render(data)
    return json.loads(rendered)


def test_quick_output_is_drfs_output_on_every_field_kind(studio_a):
    into = ContactFactory(studio=studio_a)
    people = [
        ContactFactory(studio=studio_a, first_name="Ana", custom_fields={"n": 1}),
        ContactFactory(
            studio=studio_a,
            first_name="",
            marketing_consent=True,
            marketing_consent_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC),
            merged_into=into,
            merged_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            source=Contact.Source.IMPORT,  # a str subclass, as a fresh instance holds it
        ),
    ]
    people[0].emails.create(studio=studio_a, email="ana@example.com", is_primary=True)
    people[0].emails.create(studio=studio_a, email="ana.b@example.com", is_primary=False)
    people[0].visits = 3  # an attribute of the instance, not of the model
    for instance in people + list(Contact.objects.filter(id__in=[p.id for p in people])):
        if not hasattr(instance, "visits"):
            instance.visits = 0
        drf, quick = _shape(False), _shape(True)
        expected = drf(instance).to_representation(instance)
        got = quick(instance).to_representation(instance)
        assert _json(got) == _json(expected)
        assert list(got) == list(expected)  # same keys, same order ("missing" skipped in both)
        assert "missing" not in got
    many = _json(_shape(True)(people, many=True).data)
    assert many == _json(_shape(False)(people, many=True).data)


def test_quick_output_on_the_crm_contact_shape(alice_client, studio_a):
    from crm.apis.contacts import ContactOutputSerializer
    from crm.selectors.contacts import contact_definitions, contact_get_detailed

    contact = ContactFactory(studio=studio_a, notes="<b>hi</b>", country="PT")
    JobFactory(studio=studio_a)
    detailed = contact_get_detailed(studio=studio_a, contact_id=contact.id)
    context = {"definitions": contact_definitions(studio=studio_a)}
    quick = ContactOutputSerializer(detailed, context=context).data
    plain = serializers.ModelSerializer.to_representation(
        ContactOutputSerializer(detailed, context=context), detailed
    )
    assert _json(quick) == _json(plain)
