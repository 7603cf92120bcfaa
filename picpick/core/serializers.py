"""Serializer bases for API input."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers


class InputSerializer(serializers.Serializer):
    """Write input: unknown fields are an error, not silently dropped.

    A client that sends ``{"titel": ...}`` must learn about its typo instead of seeing a
    request succeed without the change it meant.
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"__all__": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    @classmethod
    def validate_or_raise(cls, data) -> dict:
        """The validated fields of a body or query string (a 400 otherwise). A QueryDict is
        read as a plain dict: DRF would read an absent boolean in it as False."""
        serializer = cls(data=data.dict() if isinstance(data, QueryDict) else data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
