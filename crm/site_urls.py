"""The CRM's routes on a studio's site: the inquiry pages, the embed script, and the public
inquiry API (an app fetches a form and its token, then posts the answers)."""

from django.urls import include, path

from crm import views
from crm.urls.inquiries import public_urlpatterns

# ``embed`` is passed to the views so the 404 page of an embed is drawn without the site's
# header (it shows inside another site's page).
urlpatterns = [
    path("inquire/embed.js", views.embed_script, name="site-inquiry-embed-script"),
    path("inquire/<slug:slug>/", views.form_page, {"embed": False}, name="site-inquiry"),
    path("inquire/<slug:slug>/sent/", views.form_sent, {"embed": False}, name="site-inquiry-sent"),
    path(
        "inquire/<slug:slug>/embed/",
        views.form_embed,
        {"embed": True},
        name="site-inquiry-embed",
    ),
    path(
        "inquire/<slug:slug>/embed/sent/",
        views.form_embed_sent,
        {"embed": True},
        name="site-inquiry-embed-sent",
    ),
    path("api/v1/", include(public_urlpatterns)),
]
