"""Serializer bases for API input."""

from __future__ import annotations

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
