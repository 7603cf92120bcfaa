"""What every app's Django admin shares."""

from __future__ import annotations

from django.http import HttpRequest


class StaffCanViewMixin:
    """Any active staff member may look (support answers questions about every studio);
    adding, changing and deleting still need Django's model permissions."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        user = request.user
        return (user.is_active and user.is_staff) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (user.is_active and user.is_staff) or super().has_module_permission(request)
