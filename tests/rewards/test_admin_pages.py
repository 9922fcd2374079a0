"""The staff pages for rewards: earning rules, the catalog, the fulfilment queue, grants."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from app.community.models import Notification
from app.database import utcnow
from app.extensions import db
from app.ideas.services import cast_vote
from app.rewards import services
from app.rewards.models import LedgerEntry, Redemption, RewardItem
from tests.factories import make_idea, make_member

HTMX = {"HX-Request": "true"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def _admin():
    return make_member(roles=("admin",))


def _supporter_entries(author_id: int) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(LedgerEntry.amount)
            .where(LedgerEntry.user_id == author_id, LedgerEntry.reason == "supporter")
            .order_by(LedgerEntry.id)
        )
    )


def _item(name: str = "Mug", **fields) -> RewardItem:
    fields.setdefault("cost", 20)
    return services.create_item(make_member(roles=("product",)), name=name, **fields)


def _requested(item: RewardItem, person=None, *, points: int = 100) -> Redemption:
    """A redemption waiting in the queue, by a person who had ``points``."""
    person = person or make_member()
    services.grant(person, points, reason="Welcome", actor=_admin())
    return services.redeem(person, item.id)


def _reload(model, row_id: int):
    db.session.expire_all()
    return db.session.get(model, row_id)


def _catalog_names(client) -> list[str]:
    return [reward["name"] for reward in client.get("/api/v1/rewards").get_json()]


# --- earning rules --------------------------------------------------------------------------


def test_admin_changes_the_supporter_rule_and_the_next_vote_pays_the_new_amount(client, db, login):
    author = make_member()
    idea = make_idea(author)
    cast_vote(idea.id, voter=make_member())
    assert _supporter_entries(author.id) == [1]
    login(_admin())

    response = client.post_form(
        "/admin/rewards/rules",
        {"rule": "supporter", "supporter-amount": "3", "supporter-daily_cap": "10"},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/rewards/rules")
    rule = services.rules()["supporter"]
    assert (rule.amount, rule.daily_cap, rule.changed) == (3, 10, True)
    cast_vote(idea.id, voter=make_member())
    assert _supporter_entries(author.id) == [1, 3]


def test_an_empty_daily_cap_means_no_cap(client, db, login):
    login(_admin())

    client.post_form(
        "/admin/rewards/rules",
        {"rule": "comment", "comment-amount": "4", "comment-daily_cap": ""},
    )

    rule = services.rules()["comment"]
    assert (rule.amount, rule.daily_cap) == (4, None)


def test_saving_a_rule_through_htmx_answers_its_row(client, db, login):
    login(_admin())

    response = client.post_form(
        "/admin/rewards/rules",
        {"rule": "adopted", "adopted-amount": "750", "adopted-daily_cap": ""},
        headers=HTMX,
    )

    row = response.get_data(as_text=True)
    assert response.status_code == 200
    assert row.lstrip().startswith('<tr id="rule-adopted"')
    assert 'value="750"' in row
    assert "Changed from default" in row
    assert services.rules()["adopted"].amount == 750


def test_reset_returns_the_rule_to_its_default(client, db, login):
    admin = _admin()
    services.set_rule(admin, "supporter", amount=5, daily_cap=None)
    assert services.rules()["supporter"].changed
    login(admin)

    response = client.post_form("/admin/rewards/rules", {"rule": "supporter", "action": "reset"})

    assert response.status_code == 302
    rule = services.rules()["supporter"]
    assert (rule.amount, rule.daily_cap, rule.changed) == (1, 50, False)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "From 0 to 100,000."),
        ("lots", "Enter a whole number."),
        ("", "Enter a whole number."),
    ],
)
def test_an_invalid_amount_shows_a_form_error_and_changes_nothing(
    client, db, login, amount, message
):
    login(_admin())

    response = client.post_form(
        "/admin/rewards/rules",
        {"rule": "supporter", "supporter-amount": amount, "supporter-daily_cap": "50"},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert 'id="supporter-amount" inputmode="numeric" max="100000" min="0"' in page
    assert f'name="supporter-amount" required type="number" value="{amount}"' in page
    assert services.rules()["supporter"].changed is False


def test_a_daily_cap_out_of_range_is_shown_next_to_it(client, db, login):
    login(_admin())

    response = client.post_form(
        "/admin/rewards/rules",
        {"rule": "comment", "comment-amount": "2", "comment-daily_cap": "0"},
        headers=HTMX,
    )

    row = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="comment-daily_cap-error"' in row
    assert "From 1 to 1,000,000, or empty." in row
    assert services.rules()["comment"].changed is False


def test_rules_page_lists_every_rule_and_the_levels(client, db, login, app):
    login(_admin())

    page = client.get("/admin/rewards/rules").get_data(as_text=True)

    for code in services.DEFAULT_RULES:
        assert f'id="rule-{code}"' in page
    assert "% of revenue" in page
    assert "Set on each challenge, as its bonus points." in page
    assert "never rewritten" in page
    assert "REWARD_LEVELS" in page
    assert "REWARD_LEVEL_ABILITIES" in page
    assert "2,000" in page  # the fourth level's threshold


def test_rules_page_shows_what_levels_unlock(client, db, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "REWARD_LEVEL_ABILITIES", {"skip_premoderation": 3})
    login(_admin())

    page = client.get("/admin/rewards/rules").get_data(as_text=True)

    assert "<code>skip_premoderation</code>" in page
    assert "Ideas are published at once" in page


# --- the catalog ----------------------------------------------------------------------------


def test_staff_add_a_reward_with_a_picture_and_it_appears_in_the_catalog(client, db, login):
    login(make_member(roles=("moderator",)))
    assert _catalog_names(client) == []

    response = client.post_form(
        "/admin/rewards/items/new",
        {
            "name": "Enamel mug",
            "description": "Sent by post.",
            "cost": "120",
            "stock": "5",
            "per_person_limit": "1",
            "image": (io.BytesIO(png()), "mug.png"),
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/rewards/items"
    assert _catalog_names(client) == ["Enamel mug"]
    item = db.session.scalar(select(RewardItem))
    assert (item.cost, item.stock, item.per_person_limit) == (120, 5, 1)
    assert item.image_path
    listing = client.get("/admin/rewards/items").get_data(as_text=True)
    assert f"/media/{item.image_path}" in listing
    assert "Available now" in listing


def test_staff_edit_the_stock_and_cost_of_a_reward(client, db, login):
    item = _item(cost=20, stock=3)
    login(make_member(roles=("product",)))

    response = client.post_form(
        f"/admin/rewards/items/{item.id}",
        {"name": "Mug", "cost": "35", "stock": "", "per_person_limit": ""},
    )

    assert response.status_code == 302
    item = _reload(RewardItem, item.id)
    assert (item.cost, item.stock) == (35, None)
    listing = client.get("/admin/rewards/items").get_data(as_text=True)
    assert "Unlimited" in listing


def test_the_edit_form_shows_the_window_in_utc(client, db, login):
    starts = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
    item = _item(active_from=starts)
    login(make_member(roles=("product",)))

    page = client.get(f"/admin/rewards/items/{item.id}").get_data(as_text=True)

    assert f'value="{starts.strftime("%Y-%m-%dT%H:%M")}"' in page
    assert "Available from (UTC)" in page


def test_a_window_in_the_future_hides_the_reward_from_the_catalog(client, db, login):
    item = _item()
    login(make_member(roles=("product",)))
    assert _catalog_names(client) == ["Mug"]
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    client.post_form(
        f"/admin/rewards/items/{item.id}",
        {"name": "Mug", "cost": "20", "active_from": tomorrow},
    )

    assert _catalog_names(client) == []
    assert _reload(RewardItem, item.id).active_from.tzinfo is not None
    listing = client.get("/admin/rewards/items").get_data(as_text=True)
    assert "Scheduled" in listing
    assert "Available now" not in listing


def test_a_reward_whose_window_closed_is_marked_ended(client, db, login):
    now = utcnow()
    _item(active_from=now - timedelta(days=9), active_until=now - timedelta(days=2))
    login(make_member(roles=("product",)))

    listing = client.get("/admin/rewards/items").get_data(as_text=True)

    assert "Ended" in listing


def test_the_item_form_shows_service_errors_and_keeps_the_input(client, db, login):
    login(make_member(roles=("product",)))

    response = client.post_form(
        "/admin/rewards/items/new",
        {
            "name": "Tote bag",
            "cost": "0",
            "active_from": "2030-02-01T00:00",
            "active_until": "2030-01-01T00:00",
        },
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="cost-error"' in page
    assert "From 1 to 10,000,000 points." in page
    assert 'id="active_until-error"' in page
    assert "After the start." in page
    assert 'value="Tote bag"' in page
    assert db.session.scalar(select(RewardItem)) is None


def test_a_file_that_is_no_picture_is_refused_on_the_form(client, db, login):
    login(make_member(roles=("product",)))

    response = client.post_form(
        "/admin/rewards/items/new",
        {"name": "Tote bag", "cost": "30", "image": (io.BytesIO(b"not an image"), "tote.png")},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="image-error"' in page
    assert db.session.scalar(select(RewardItem)) is None


def test_staff_remove_a_rewards_picture(client, db, login):
    login(make_member(roles=("product",)))
    client.post_form(
        "/admin/rewards/items/new",
        {"name": "Mug", "cost": "20", "image": (io.BytesIO(png()), "mug.png")},
    )
    item = db.session.scalar(select(RewardItem))
    assert item.image_path

    client.post_form(
        f"/admin/rewards/items/{item.id}", {"name": "Mug", "cost": "20", "remove_image": "y"}
    )

    assert _reload(RewardItem, item.id).image_path is None


def test_an_unknown_reward_is_404(client, db, login):
    login(make_member(roles=("product",)))

    assert client.get("/admin/rewards/items/999").status_code == 404


# --- the fulfilment queue -------------------------------------------------------------------


def test_the_queue_shows_requests_oldest_first(client, db, login):
    mug, cap = _item("Mug"), _item("Cap")
    first = _requested(cap, make_member(display_name="Ada", email="ada@example.com"))
    second = _requested(mug, make_member(display_name="Bo"))
    login(make_member(roles=("moderator",)))

    page = client.get("/admin/rewards/queue").get_data(as_text=True)

    assert page.index(f'id="redemption-{first.id}"') < page.index(f'id="redemption-{second.id}"')
    assert "ada@example.com" in page
    assert f"/admin/rewards/redemptions/{first.id}/fulfil" in page


def test_the_queue_page_costs_the_same_whatever_its_size(client, db, login, count_queries):
    mug = _item("Mug", stock=None)
    login(make_member(roles=("moderator",)))
    _requested(mug)
    with count_queries() as small:
        client.get("/admin/rewards/queue")
    for _ in range(5):
        _requested(mug)

    with count_queries() as large:
        response = client.get("/admin/rewards/queue")

    assert response.get_data(as_text=True).count('id="redemption-') == 6
    assert small() == large() == 3  # the person (with roles and balance), the queue, its count


def test_fulfilling_moves_the_request_to_fulfilled_and_tells_the_customer(client, db, login):
    redemption = _requested(_item("Mug"))
    customer_id = redemption.user_id
    login(make_member(roles=("product",), display_name="Priya Staff"))

    response = client.post_form(
        f"/admin/rewards/redemptions/{redemption.id}/fulfil",
        {"note": "Tracking number XY123"},
        follow_redirects=True,
    )

    page = response.get_data(as_text=True)
    assert response.request.path == "/admin/rewards/queue"
    assert "is fulfilled; they have been told." in page
    assert _reload(Redemption, redemption.id).status == "fulfilled"
    fulfilled = client.get("/admin/rewards/queue?status=fulfilled").get_data(as_text=True)
    assert f'id="redemption-{redemption.id}"' in fulfilled
    assert "Tracking number XY123" in fulfilled
    assert "by Priya Staff" in fulfilled
    texts = db.session.scalars(
        select(Notification.text).where(
            Notification.recipient_id == customer_id, Notification.kind == "reward"
        )
    ).all()
    assert any("is on its way" in text and "XY123" in text for text in texts)


def test_fulfilling_through_htmx_answers_the_rows_new_state(client, db, login):
    redemption = _requested(_item("Mug"))
    login(make_member(roles=("product",)))

    response = client.post_form(f"/admin/rewards/redemptions/{redemption.id}/fulfil", headers=HTMX)

    row = response.get_data(as_text=True)
    assert response.status_code == 200
    assert row.lstrip().startswith(f'<tr id="redemption-{redemption.id}"')
    assert "fulfilled" in row
    assert "/fulfil" not in row


def test_cancelling_refunds_the_points_and_restocks_the_reward(client, db, login):
    item = _item("Mug", cost=30, stock=2)
    redemption = _requested(item, points=100)
    customer = db.session.get(Redemption, redemption.id).user
    assert services.balance_of(customer) == 70
    assert _reload(RewardItem, item.id).stock == 1
    login(make_member(roles=("moderator",)))

    response = client.post_form(
        f"/admin/rewards/redemptions/{redemption.id}/cancel",
        {"note": "Sold out at the warehouse"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "cancelled" in response.get_data(as_text=True)
    assert services.balance_of(customer) == 100
    assert _reload(RewardItem, item.id).stock == 2
    texts = db.session.scalars(
        select(Notification.text).where(
            Notification.recipient_id == customer.id, Notification.kind == "reward"
        )
    ).all()
    assert any("Sold out at the warehouse" in text for text in texts)


def test_fulfilling_a_request_someone_already_decided_says_so(client, db, login):
    redemption = _requested(_item("Mug"))
    services.cancel_redemption(redemption, actor=make_member(roles=("product",)))
    login(make_member(roles=("product",)))

    response = client.post_form(
        f"/admin/rewards/redemptions/{redemption.id}/fulfil", follow_redirects=True
    )

    assert response.status_code == 200
    assert "Someone already dealt with this request: it is cancelled now." in response.get_data(
        as_text=True
    )
    assert _reload(Redemption, redemption.id).status == "cancelled"


def test_a_second_fulfil_through_htmx_is_a_409_row_with_the_message(client, db, login):
    redemption = _requested(_item("Mug"))
    login(make_member(roles=("product",)))
    client.post_form(f"/admin/rewards/redemptions/{redemption.id}/fulfil", headers=HTMX)

    response = client.post_form(f"/admin/rewards/redemptions/{redemption.id}/fulfil", headers=HTMX)

    assert response.status_code == 409
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith("<tr")
    assert "it is fulfilled now." in row


@pytest.mark.parametrize("query", ["status=lost", "page=0", "page=99999999999999999999"])
def test_a_bad_queue_address_is_a_clear_4xx(client, db, login, query):
    login(make_member(roles=("moderator",)))

    response = client.get(f"/admin/rewards/queue?{query}")

    assert 400 <= response.status_code < 500


def test_an_unknown_redemption_is_404(client, db, login):
    login(make_member(roles=("moderator",)))

    assert client.post_form("/admin/rewards/redemptions/999/fulfil").status_code == 404


# --- grants ---------------------------------------------------------------------------------


def test_admin_grants_points_and_the_audit_list_shows_who_and_why(client, db, login):
    person = make_member(email="pat@example.com", display_name="Pat")
    login(make_member(roles=("admin",), display_name="Alex Admin"))

    response = client.post_form(
        "/admin/rewards/grants",
        {"email": "PAT@example.com", "amount": "40", "reason": "Hosted the meetup"},
        follow_redirects=True,
    )

    page = response.get_data(as_text=True)
    assert "40 points granted to Pat." in page
    assert services.balance_of(person) == 40
    row = page[page.index('id="grant-') :]
    assert "Pat" in row
    assert "+40" in row
    assert "Hosted the meetup" in row
    assert "Alex Admin" in row


def test_deducting_more_than_the_balance_shows_the_error(client, db, login):
    person = make_member(email="pat@example.com", display_name="Pat")
    services.grant(person, 10, reason="Welcome", actor=_admin())
    login(_admin())

    response = client.post_form(
        "/admin/rewards/grants",
        {"email": "pat@example.com", "amount": "-25", "reason": "Duplicate account"},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Pat has only 10 points: deduct at most that." in page
    assert 'value="-25"' in page
    assert services.balance_of(person) == 10


def test_a_deduction_within_the_balance_is_recorded(client, db, login):
    person = make_member(email="pat@example.com", display_name="Pat")
    services.grant(person, 10, reason="Welcome", actor=_admin())
    login(_admin())

    response = client.post_form(
        "/admin/rewards/grants",
        {"email": "pat@example.com", "amount": "-4", "reason": "Counted twice"},
        follow_redirects=True,
    )

    assert "4 points deducted from Pat." in response.get_data(as_text=True)
    assert services.balance_of(person) == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"email": "nobody@example.com", "amount": "5", "reason": "Hi"},
            "Nobody has an account with this address.",
        ),
        ({"email": "pat@example.com", "amount": "0", "reason": "Hi"}, "Not zero"),
        ({"email": "pat@example.com", "amount": "5", "reason": ""}, "This field is required."),
    ],
)
def test_a_grant_the_service_refuses_shows_why(client, db, login, data, message):
    make_member(email="pat@example.com")
    login(_admin())

    response = client.post_form("/admin/rewards/grants", data)

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(LedgerEntry)) is None


# --- who may see what -----------------------------------------------------------------------


ADMIN_ONLY = ["/admin/rewards/rules", "/admin/rewards/grants"]
STAFF = ["/admin/rewards/items", "/admin/rewards/items/new", "/admin/rewards/queue"]


@pytest.mark.parametrize("url", ADMIN_ONLY + STAFF)
def test_customers_are_refused_the_staff_pages(client, db, login, url):
    login(make_member())

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ADMIN_ONLY + STAFF)
def test_anonymous_visitors_are_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("url", ADMIN_ONLY)
def test_moderators_are_refused_the_admin_only_pages(client, db, login, url):
    login(make_member(roles=("moderator",)))

    assert client.get(url).status_code == 403


def test_the_admin_menu_shows_staff_the_queue_size(client, db, login):
    _requested(_item("Mug"))
    _requested(_item("Cap"))
    login(make_member(roles=("moderator",)))

    page = client.get("/").get_data(as_text=True)

    assert 'href="/admin/rewards/queue"' in page
    assert 'id="nav-reward-queue-size">2<' in page
    assert 'href="/admin/rewards/items"' in page
    assert 'href="/admin/rewards/rules"' not in page
    assert 'href="/admin/rewards/grants"' not in page


def test_the_admin_menu_gives_admins_the_rules_and_grants(client, db, login):
    login(_admin())

    page = client.get("/admin/rewards/grants").get_data(as_text=True)

    assert 'href="/admin/rewards/rules"' in page
    assert 'href="/admin/rewards/grants"\n     aria-current="page"' in page


def test_customers_see_no_rewards_admin_menu(client, db, login):
    login(make_member())

    page = client.get("/").get_data(as_text=True)

    assert "/admin/rewards/" not in page
