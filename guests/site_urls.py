"""The guest pages of a studio's site (server-rendered; the grid and viewer call the guest API)."""

from django.urls import path

from guests import views

urlpatterns = [
    path("", views.home, name="site-home"),
    path("g/<slug:slug>/", views.gallery_page, name="site-gallery"),
    path("g/<slug:slug>/unlock/", views.gallery_unlock, name="site-gallery-unlock"),
    path("g/<slug:slug>/register/", views.gallery_register, name="site-gallery-register"),
]
