"""Contact search reads index ranges on MariaDB: the plans, asked of the server with EXPLAIN.

The timings are measured in ``bench/bench_crm_contacts.py``; this checks the shape that makes
them: a name prefix is a range of the live contacts' name index read in page order (no sort,
no walk of the whole studio), a dense tag walks that index with the members read once, an
email is a range of the unique ``(studio, email)``.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

from crm.models import Contact, ContactEmail, ContactTag, Tag
from crm.selectors import contacts as selectors
from picpick.core.pagination import paginate_union
from picpick.testing.factories import StudioFactory

pytestmark = [
    # ANALYZE TABLE commits: the rows are flushed after each test instead of rolled back.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "mysql", reason="the plans asked are MariaDB's (CI runs them)"
    ),
]
PEOPLE = 4000


@pytest.fixture
def studio():
    studio = StudioFactory()
    other = StudioFactory()
    tag = Tag.objects.create(studio=studio, name="wedding")
    for owner, count in ((studio, PEOPLE), (other, PEOPLE // 4)):
        contacts = Contact.objects.bulk_create(
            Contact(
                studio=owner,
                first_name=f"{['Ana', 'Ben', 'Cara', 'Dan', 'Eva'][n % 5]}{n % 37}",
                last_name=f"{['Silva', 'Smith', 'Lima', 'Novak', 'Meyer'][n % 5]}{n % 101}",
                email=f"p{n}@example.com",
            )
            for n in range(count)
        )
        ContactEmail.objects.bulk_create(
            ContactEmail(studio=owner, contact=c, email=c.email, is_primary=True) for c in contacts
        )
    ContactTag.objects.bulk_create(
        ContactTag(contact=c, tag=tag)
        for c in Contact.objects.filter(studio=studio).order_by("id")[::3]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE crm_contact, crm_contactemail, crm_contacttag")
        cursor.fetchall()
    return studio


def _plan(queryset) -> list[dict]:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _contact_rows(plan: list[dict]) -> list[dict]:
    return [row for row in plan if row["table"] == "crm_contact"]


def test_a_name_prefix_is_a_range_of_the_live_name_index_in_page_order(studio):
    query = selectors.contact_list(studio=studio, q="Silva1")
    assert query.union  # names page as a union of ranges
    for number, part in enumerate(query.union):
        ids = query.queryset.filter(part).order_by(*query.ordering, "id").values_list("pk")[:51]
        rows = _contact_rows(_plan(ids))
        assert len(rows) == 1, rows
        assert rows[0]["key"] in {"crm_contact_live_last", "crm_contact_live_first"}, rows
        assert rows[0]["type"] == "range", rows  # not a walk of the studio from its start
        if number == 0:  # the last-name range is in page order; first names are sorted
            assert "filesort" not in (rows[0]["Extra"] or ""), rows
    page = paginate_union(
        query.queryset, parts=query.union, ordering=query.ordering, cursor=None, page_size=50
    )
    assert page.items and all(c.last_name.startswith("Silva1") for c in page.items[:10])


def test_a_dense_tag_walks_names_in_order_without_sorting(studio, monkeypatch):
    monkeypatch.setattr(selectors, "DENSE_TAG", 100)
    cache.clear()  # the remembered density of the tag
    query = selectors.contact_list(studio=studio, tag="Wedding")
    narrow = query.queryset.only("id", "last_name", "first_name")
    plan = _plan(narrow.order_by(*query.ordering, "id")[:51])
    contact = _contact_rows(plan)[0]
    assert contact["key"] == "crm_contact_live_last", plan
    assert "filesort" not in (contact["Extra"] or ""), plan


def test_an_email_prefix_is_a_range_of_the_unique_email_index(studio):
    emails = ContactEmail.objects.filter(studio=studio, email__istartswith="p12")
    plan = _plan(emails.values_list("contact_id")[: selectors.MATCH_LIMIT + 1])
    assert plan[0]["key"] == "crm_contact_email_unique" and plan[0]["type"] == "range", plan
