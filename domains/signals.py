"""Cached host routing follows changes made outside this app's services.

A studio's subdomain is its slug, and studios are written by ``accounts``: a new studio (its
host may be cached as unknown), a slug change (the old host must stop answering at once) and a
deleted row each drop the cached answers. Rows deleted in bulk (a studio's cascade, the admin)
drop theirs too. Soft deletion (``deleted_at``) is an UPDATE that sends no signal: routing
excludes deleted studios on a miss and cached answers expire (PICPICK_HOST_CACHE_SECONDS).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.models import Studio
from domains.models import Domain
from domains.selectors import studio_subdomain
from domains.services import hosts_forget


@receiver(pre_save, sender=Studio, dispatch_uid="domains.studio_slug_before")
def _studio_slug_before(sender, instance: Studio, raw: bool = False, update_fields=None, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and "slug" not in update_fields:
        return
    instance._domains_old_slug = (
        Studio.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
    )


@receiver(post_save, sender=Studio, dispatch_uid="domains.studio_saved")
def _studio_saved(sender, instance: Studio, raw: bool = False, **kwargs):
    hosts = {studio_subdomain(studio=instance)}
    old_slug = instance.__dict__.pop("_domains_old_slug", None)
    if old_slug and old_slug != instance.slug:
        hosts.add(studio_subdomain(studio=Studio(slug=old_slug)))
    hosts_forget(*hosts)


@receiver(post_delete, sender=Studio, dispatch_uid="domains.studio_deleted")
def _studio_deleted(sender, instance: Studio, **kwargs):
    hosts_forget(studio_subdomain(studio=instance))


@receiver(post_delete, sender=Domain, dispatch_uid="domains.domain_deleted")
def _domain_deleted(sender, instance: Domain, **kwargs):
    hosts_forget(instance.hostname)
