from django.apps import AppConfig


class FacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "faces"

    def ready(self) -> None:
        from accounts.services import STUDIO_FACES_SWITCH_HOOKS
        from faces import pipeline, services
        from faces.selectors.progress import gallery_face_counts
        from galleries.selectors.progress import PROGRESS_HOOKS
        from galleries.services.galleries import GALLERY_DELETE_HOOKS, GALLERY_FACES_SWITCH_HOOKS
        from galleries.services.photos import PHOTO_DELETE_HOOKS, PhotoDeleteHook
        from galleries.services.processing import DECODED_HOOKS

        PHOTO_DELETE_HOOKS.append(
            PhotoDeleteHook(
                relations=frozenset({("faces.face", "photo"), ("faces.photofacescan", "photo")}),
                delete=services.faces_delete_for_photos,
            )
        )
        _register(STUDIO_FACES_SWITCH_HOOKS, services.studio_faces_switched)
        _register(GALLERY_FACES_SWITCH_HOOKS, services.gallery_faces_switched)
        _register(GALLERY_DELETE_HOOKS, services.gallery_deleting)
        _register(PROGRESS_HOOKS, gallery_face_counts)
        # The face step runs on the decode the media step already made.
        if pipeline.decoded_hook not in DECODED_HOOKS:
            DECODED_HOOKS.append(pipeline.decoded_hook)


def _register(hooks: list, hook) -> None:
    if hook not in hooks:  # ready() may run twice (tests that reload apps)
        hooks.append(hook)
