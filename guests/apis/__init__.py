"""The guest API: what the guest pages do, as JSON for the mobile apps; and the studio's side
of guests (``studio``).

Served on the API host (any studio's gallery, by id) and on every studio site (only that
studio's galleries: another studio's gallery id is a 404 there). A guest proves access with
a gallery token (``guests.access``): the ``X-Gallery-Token`` header from the apps, or the
page's HttpOnly cookie on a studio site — then unsafe methods need the CSRF token too.
"""
