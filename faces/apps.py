from django.apps import AppConfig


class FacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "faces"

    def ready(self) -> None:
        from faces import services
        from galleries.services.photos import PHOTO_DELETE_HOOKS, PhotoDeleteHook

        PHOTO_DELETE_HOOKS.append(
            PhotoDeleteHook(
                relations=frozenset({("faces.face", "photo")}),
                delete=services.faces_delete_for_photos,
            )
        )
