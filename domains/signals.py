"""Cached host routing follows the deletion of domain rows made outside this app's services.

A studio's cascade and the admin delete domain rows without calling ``domain_delete``; each
deleted row drops its cached answer. (Studio changes reach domains through accounts'
``STUDIO_CHANGE_HOOKS``, registered in ``domains.apps``: a signal here is only about this app's
own table.)
"""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from domains.models import Domain
from domains.services import hosts_forget


@receiver(post_delete, sender=Domain, dispatch_uid="domains.domain_deleted")
def _domain_deleted(sender, instance: Domain, **kwargs):
    hosts_forget(instance.hostname)
