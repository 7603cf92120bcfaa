"""factory_boy factories for every model the tests build."""

from __future__ import annotations

import factory

from accounts.models import Membership, Role, Studio, User
from galleries.models import Album, Gallery, Photo


class StudioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Studio

    name = factory.Sequence(lambda n: f"Studio {n}")
    slug = factory.Sequence(lambda n: f"studio-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    studio = factory.SubFactory(StudioFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class GalleryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gallery

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Gallery {n}")
    slug = factory.Sequence(lambda n: f"gallery-{n}")


class AlbumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Album

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    name = factory.Sequence(lambda n: f"Album {n}")


class PhotoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Photo

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    filename = factory.Sequence(lambda n: f"IMG_{n:05d}.jpg")
    size = 1_000_000
    content_type = "image/jpeg"
    state = Photo.State.READY
    position = factory.Sequence(lambda n: n)
