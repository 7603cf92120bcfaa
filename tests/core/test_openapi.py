"""The OpenAPI schema documents the errors every endpoint can answer."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator


def test_every_operation_documents_rate_limits_and_body_size_errors():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 50
    for path, method, operation in operations:
        assert "429" in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert "413" in operation["responses"], (method, path)
            body = operation["responses"]["413"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
