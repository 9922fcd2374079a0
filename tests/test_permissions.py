"""Who may call what: every route in the URL map × every kind of visitor.

EXPECTED must name every (method, rule) in ``app.url_map``: a new route without an entry fails
``test_every_route_has_expectations``, so nobody adds a page without deciding who may see it.
HTML routes are called with a signed-in browser session (forms carry a valid CSRF token, so this
tests permission, not CSRF); API routes with a bearer token. An outcome is a status code, or
"302 <path>" where the path is a regular expression and the query string is not compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import ApiToken, User, UserRole
from app.community import services as community
from app.community.models import Comment
from app.database import utcnow
from app.extensions import db
from app.ideas import services as ideas
from app.mail.models import OutboxMessage
from tests.factories import PASSWORD, make_member

ANONYMOUS, CUSTOMER, MODERATOR, PRODUCT, ADMIN = (
    "anonymous",
    "customer",
    "moderator",
    "product",
    "admin",
)
PERSONAS = (ANONYMOUS, CUSTOMER, MODERATOR, PRODUCT, ADMIN)
NOT_CHECKED_RULES = {"/api/v1/openapi.json"}  # the API description: tests/api/test_openapi.py
TARGET_EMAIL = "target@example.com"
NEW_PASSWORD = "a brand new password"
NEW_PERSON = {"email": "new@example.com", "password": "analytical engine", "display_name": "New"}
NEW_IDEA = {"title": "A lamp that follows the sun", "body": "It turns towards the window."}
LOGIN = "302 /login"
HOME = "302 /"
IDEA_PAGE = r"302 /ideas/\d+"
THUMBS_UP = "\N{THUMBS UP SIGN}"

Outcome = int | str


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(PERSONAS, outcome)


def signed_in(outcome: Outcome, *, anonymous: Outcome) -> dict[str, Outcome]:
    return {**everyone(outcome), ANONYMOUS: anonymous}


def only(roles: tuple[str, ...], outcome: Outcome, *, anonymous: Outcome) -> dict[str, Outcome]:
    """``outcome`` for these roles, 403 for the other signed-in people."""
    return {
        **dict.fromkeys(PERSONAS, 403),
        **dict.fromkeys(roles, outcome),
        ANONYMOUS: anonymous,
    }


def admins(outcome: Outcome, *, anonymous: Outcome) -> dict[str, Outcome]:
    return only((ADMIN,), outcome, anonymous=anonymous)


MODERATORS = (MODERATOR, ADMIN)  # can_moderate
PRODUCT_TEAM = (PRODUCT, ADMIN)  # is_product_team
CURATORS = (MODERATOR, PRODUCT, ADMIN)


class World:
    """The rows a request needs, made on first use: the caller (if any), a target person, ..."""

    def __init__(self, persona: str) -> None:
        self.target = make_member(email=TARGET_EMAIL, roles=(MODERATOR,), verified=False)
        self.actor = None if persona == ANONYMOUS else make_member(roles=(persona,))
        owner = self.actor or self.target
        self.spare_token_id = services.create_api_token(owner, name="spare")[0].id
        self.bearer = (
            services.create_api_token(self.actor, name="caller")[1] if self.actor else None
        )

    @cached_property
    def customer(self) -> User:
        """A customer who is not the caller (moderators may suspend them)."""
        return make_member()

    @cached_property
    def staff(self) -> User:
        """Sets up categories and challenges; never the caller."""
        return make_member(roles=(ADMIN, PRODUCT))

    @cached_property
    def idea(self):
        """An open idea by the target, so the caller is never its author."""
        return ideas.submit_idea(self.target, **NEW_IDEA)

    @cached_property
    def other_idea(self):
        return ideas.submit_idea(self.target, title="A kettle that whistles quietly", body="Hm.")

    @cached_property
    def reward(self):
        from app.rewards import services as rewards

        return rewards.create_item(self.staff, name="Mug", cost=10, stock=3)

    @cached_property
    def redemption(self):
        """The target's request for the reward, with points an admin granted; never the
        caller's."""
        from app.rewards import services as rewards

        rewards.grant(self.target, 50, reason="For the test", actor=self.staff)
        return rewards.redeem(self.target, self.reward.id)

    @cached_property
    def category(self):
        return ideas.create_category(self.staff, name="Kitchen")

    @cached_property
    def challenge(self):
        now = utcnow()
        return ideas.create_challenge(
            self.staff,
            title="Designs for small flats",
            brief="Furniture that folds away.",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=7),
        )

    @cached_property
    def comment(self):
        """A comment by the target (a moderator: staff, so it may become the official answer)."""
        return community.post_comment(
            self.target, body="Could it run on batteries?", idea=self.idea
        )

    def comment_now(self):
        db.session.expire_all()
        return db.session.get(Comment, self.comment.id)

    def media_path(self) -> str:
        path = Path(current_app.config["MEDIA_ROOT"]) / "permissions" / "image.webp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF\x00\x00\x00\x00WEBP")
        return "/media/permissions/image.webp"

    def reset_path(self) -> str:
        services.request_password_reset(TARGET_EMAIL)
        return _last_mailed_path("/reset-password/")

    def verify_path(self) -> str:
        services.resend_verification(self.target)
        return _last_mailed_path("/verify-email/")


def _last_mailed_path(prefix: str) -> str:
    """The path of the link starting with ``prefix`` in the newest outbox message."""
    body = db.session.scalar(
        select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()).limit(1)
    )
    match = re.search(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", body)
    assert match, body
    return match.group(1)


@dataclass(frozen=True)
class Call:
    expected: dict[str, Outcome]
    url: str | Callable[[World], str] | None = None  # None: the rule itself
    data: dict | Callable[[World], dict] | None = None
    # Did the change happen? It must for ``allowed`` and must not for anyone else, whatever the
    # page answered (some actions answer a conflict with a flash and a redirect, like success).
    done: Callable[[World], bool] | None = None
    allowed: tuple[str, ...] = ()


EXPECTED: dict[tuple[str, str], Call] = {
    # --- pages anyone may see ---
    ("GET", "/"): Call(everyone(200)),
    ("GET", "/healthz"): Call(everyone(200)),
    ("GET", "/login"): Call(signed_in(HOME, anonymous=200)),
    ("POST", "/login"): Call(everyone(HOME), data={"email": TARGET_EMAIL, "password": PASSWORD}),
    ("POST", "/logout"): Call(everyone(HOME)),
    ("GET", "/register"): Call(signed_in(HOME, anonymous=200)),
    ("POST", "/register"): Call(everyone(HOME), data=NEW_PERSON),
    ("GET", "/forgot-password"): Call(everyone(200)),
    ("POST", "/forgot-password"): Call(everyone(LOGIN), data={"email": TARGET_EMAIL}),
    ("GET", "/reset-password/<token>"): Call(everyone(200), url=World.reset_path),
    ("POST", "/reset-password/<token>"): Call(
        everyone(LOGIN),
        url=World.reset_path,
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    ),
    ("GET", "/verify-email/<token>"): Call(everyone(HOME), url=World.verify_path),
    # --- the signed-in person's own account ---
    ("POST", "/verify-email/resend"): Call(signed_in("302 /account", anonymous=LOGIN)),
    ("GET", "/account"): Call(signed_in(200, anonymous=LOGIN)),
    ("POST", "/account/profile"): Call(
        signed_in("302 /account", anonymous=LOGIN), data={"display_name": "Renamed"}
    ),
    ("POST", "/account/password"): Call(
        signed_in("302 /account", anonymous=LOGIN),
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    ),
    ("POST", "/account/tokens"): Call(signed_in(200, anonymous=LOGIN), data={"name": "script"}),
    ("GET", "/account/notifications"): Call(signed_in(200, anonymous=LOGIN)),
    ("POST", "/account/notifications"): Call(
        signed_in("302 /account/notifications", anonymous=LOGIN),
        data=lambda w: {
            "email_consent": "y",
            **{f"frequency-{kind}": "daily" for kind in community.NOTIFICATION_KINDS},
        },
    ),
    ("POST", "/account/tokens/<int:token_id>/revoke"): Call(
        signed_in("302 /account", anonymous=LOGIN),
        url=lambda world: f"/account/tokens/{world.spare_token_id}/revoke",
    ),
    # --- administration ---
    ("GET", "/admin/users"): Call(only(MODERATORS, 200, anonymous=LOGIN)),
    ("POST", "/admin/users/<int:user_id>/suspension"): Call(
        only(MODERATORS, "302 /admin/users", anonymous=LOGIN),
        url=lambda world: f"/admin/users/{world.customer.id}/suspension",
        data={"reason": "Adverts in every comment"},
    ),
    ("POST", "/admin/users/<int:user_id>/suspension/lift"): Call(
        only(MODERATORS, "302 /admin/users", anonymous=LOGIN),
        url=lambda world: f"/admin/users/{world.customer.id}/suspension/lift",
    ),
    ("GET", "/admin/outbox"): Call(admins(200, anonymous=LOGIN)),
    ("POST", "/admin/users/<int:user_id>/roles/<role>/<any(grant, revoke):action>"): Call(
        admins("302 /admin/users", anonymous=LOGIN),
        url=lambda world: f"/admin/users/{world.target.id}/roles/product/grant",
    ),
    ("GET", "/admin/categories"): Call(admins(200, anonymous=LOGIN)),
    ("POST", "/admin/categories"): Call(
        admins("302 /admin/categories", anonymous=LOGIN), data={"name": "Garden"}
    ),
    ("POST", "/admin/categories/<int:category_id>/delete"): Call(
        admins("302 /admin/categories", anonymous=LOGIN),
        url=lambda world: f"/admin/categories/{world.category.id}/delete",
    ),
    # --- ideas and challenges ---
    ("GET", "/ideas"): Call(everyone(200)),
    ("GET", "/ideas/similar"): Call(everyone(200), url="/ideas/similar?title=lamp"),
    ("GET", "/ideas/new"): Call(signed_in(200, anonymous=LOGIN)),
    ("POST", "/ideas/new"): Call(signed_in(IDEA_PAGE, anonymous=LOGIN), data=NEW_IDEA),
    ("GET", "/ideas/<int:idea_id>"): Call(everyone(200), url=lambda w: f"/ideas/{w.idea.id}"),
    ("GET", "/ideas/<int:idea_id>/similar"): Call(
        everyone(200), url=lambda w: f"/ideas/{w.idea.id}/similar"
    ),
    ("GET", "/ideas/<int:idea_id>/history"): Call(
        everyone(200), url=lambda w: f"/ideas/{w.idea.id}/history"
    ),
    # Only the author (never the caller here) and moderators may edit.
    ("GET", "/ideas/<int:idea_id>/edit"): Call(
        only(MODERATORS, 200, anonymous=LOGIN), url=lambda w: f"/ideas/{w.idea.id}/edit"
    ),
    ("POST", "/ideas/<int:idea_id>/edit"): Call(
        only(MODERATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/ideas/{w.idea.id}/edit",
        data={"title": "A lamp that follows the moon", "body": "At night.", "tags": ""},
    ),
    ("POST", "/ideas/<int:idea_id>/<any(vote, unvote):action>"): Call(
        signed_in(IDEA_PAGE, anonymous=LOGIN), url=lambda w: f"/ideas/{w.idea.id}/vote"
    ),
    ("POST", "/ideas/<int:idea_id>/status"): Call(
        only(CURATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/ideas/{w.idea.id}/status",
        data={"status": "under_review"},
    ),
    ("POST", "/ideas/<int:idea_id>/merge"): Call(
        only(MODERATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/ideas/{w.idea.id}/merge",
        data=lambda w: {"into": w.other_idea.id},
    ),
    ("GET", "/media/<path:path>"): Call(everyone(200), url=World.media_path),
    ("GET", "/challenges"): Call(everyone(200)),
    ("GET", "/challenges/<int:challenge_id>"): Call(
        everyone(200), url=lambda w: f"/challenges/{w.challenge.id}"
    ),
    ("GET", "/challenges/new"): Call(only(PRODUCT_TEAM, 200, anonymous=LOGIN)),
    ("POST", "/challenges/new"): Call(
        only(PRODUCT_TEAM, r"302 /challenges/\d+", anonymous=LOGIN),
        data={
            "title": "Designs for balconies",
            "brief": "Small outdoor spaces.",
            "opens_at": "2030-01-01T00:00",
            "closes_at": "2030-02-01T00:00",
        },
    ),
    # --- conversation, follows, people and notifications ---
    ("POST", "/ideas/<int:idea_id>/comments"): Call(
        signed_in(IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/ideas/{w.idea.id}/comments",
        data={"body": "I would buy two."},
    ),
    ("POST", "/challenges/<int:challenge_id>/comments"): Call(
        signed_in(r"302 /challenges/\d+", anonymous=LOGIN),
        url=lambda w: f"/challenges/{w.challenge.id}/comments",
        data={"body": "Does a stool count?"},
    ),
    # Without htmx, "show more comments" opens the page at the next branch.
    ("GET", "/ideas/<int:idea_id>/comments/more"): Call(
        everyone(IDEA_PAGE),
        url=lambda w: f"/ideas/{w.idea.id}/comments/more?after={w.comment.id}",
    ),
    ("GET", "/comments/<int:comment_id>"): Call(
        everyone(200), url=lambda w: f"/comments/{w.comment.id}"
    ),
    ("POST", "/comments/<int:comment_id>/edit"): Call(
        only(MODERATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/comments/{w.comment.id}/edit",
        data={"body": "Edited by someone"},
        done=lambda w: w.comment_now().body == "Edited by someone",
        allowed=MODERATORS,
    ),
    ("POST", "/comments/<int:comment_id>/delete"): Call(
        only(MODERATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/comments/{w.comment.id}/delete",
        done=lambda w: w.comment_now().is_deleted,
        allowed=MODERATORS,
    ),
    ("POST", "/comments/<int:comment_id>/official"): Call(
        only(CURATORS, IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/comments/{w.comment.id}/official",
        done=lambda w: w.comment_now().is_official,
        allowed=CURATORS,
    ),
    ("POST", "/comments/<int:comment_id>/reactions/<emoji>"): Call(
        signed_in(IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/comments/{w.comment.id}/reactions/{quote(THUMBS_UP)}",
        data={"on": "1"},
    ),
    ("POST", "/follows/<kind>/<int:target_id>"): Call(
        signed_in(IDEA_PAGE, anonymous=LOGIN),
        url=lambda w: f"/follows/idea/{w.idea.id}",
        data={"on": "1"},
    ),
    ("GET", "/people/suggest"): Call(signed_in(200, anonymous=LOGIN), url="/people/suggest?q=me"),
    ("GET", "/people/<int:user_id>"): Call(everyone(200), url=lambda w: f"/people/{w.target.id}"),
    ("GET", "/account/public-profile"): Call(signed_in(200, anonymous=LOGIN)),
    ("POST", "/account/public-profile"): Call(
        signed_in("302 /account/public-profile", anonymous=LOGIN), data={"bio": "I make lamps."}
    ),
    ("GET", "/notifications"): Call(signed_in(200, anonymous=LOGIN)),
    ("POST", "/notifications/read"): Call(signed_in("302 /notifications", anonymous=LOGIN)),
    ("GET", "/feed"): Call(everyone(200)),
    # --- the JSON API: accounts ---
    ("POST", "/api/v1/tokens"): Call(
        everyone(201), data={"email": TARGET_EMAIL, "password": PASSWORD}
    ),
    ("GET", "/api/v1/tokens"): Call(signed_in(200, anonymous=401)),
    ("DELETE", "/api/v1/tokens/<int:token_id>"): Call(
        signed_in(204, anonymous=401), url=lambda w: f"/api/v1/tokens/{w.spare_token_id}"
    ),
    ("POST", "/api/v1/users"): Call(everyone(201), data=NEW_PERSON),
    ("GET", "/api/v1/me"): Call(signed_in(200, anonymous=401)),
    ("PATCH", "/api/v1/me"): Call(signed_in(200, anonymous=401), data={"display_name": "Renamed"}),
    ("PUT", "/api/v1/users/<int:user_id>/roles/<any(moderator, product, admin):role>"): Call(
        admins(200, anonymous=401), url=lambda w: f"/api/v1/users/{w.target.id}/roles/product"
    ),
    ("DELETE", "/api/v1/users/<int:user_id>/roles/<any(moderator, product, admin):role>"): Call(
        admins(200, anonymous=401), url=lambda w: f"/api/v1/users/{w.target.id}/roles/moderator"
    ),
    ("POST", "/api/v1/users/<int:user_id>/suspension"): Call(
        only(MODERATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/users/{w.customer.id}/suspension",
        data={"reason": "Adverts in every comment"},
    ),
    ("DELETE", "/api/v1/users/<int:user_id>/suspension"): Call(
        only(MODERATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/users/{w.customer.id}/suspension",
    ),
    # --- the JSON API: ideas ---
    ("GET", "/api/v1/categories"): Call(everyone(200)),
    ("GET", "/api/v1/challenges"): Call(everyone(200)),
    ("POST", "/api/v1/challenges"): Call(
        only(PRODUCT_TEAM, 201, anonymous=401),
        data={
            "title": "Designs for balconies",
            "brief": "Small outdoor spaces.",
            "opens_at": "2030-01-01T00:00:00+00:00",
            "closes_at": "2030-02-01T00:00:00+00:00",
        },
    ),
    ("GET", "/api/v1/ideas"): Call(everyone(200)),
    ("POST", "/api/v1/ideas"): Call(signed_in(201, anonymous=401), data=NEW_IDEA),
    ("GET", "/api/v1/ideas/similar"): Call(everyone(200), url="/api/v1/ideas/similar?title=lamp"),
    ("GET", "/api/v1/ideas/<int:idea_id>"): Call(
        everyone(200), url=lambda w: f"/api/v1/ideas/{w.idea.id}"
    ),
    ("PATCH", "/api/v1/ideas/<int:idea_id>"): Call(
        only(MODERATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/ideas/{w.idea.id}",
        data={"title": "A lamp that follows the moon"},
    ),
    ("PUT", "/api/v1/ideas/<int:idea_id>/vote"): Call(
        signed_in(200, anonymous=401), url=lambda w: f"/api/v1/ideas/{w.idea.id}/vote"
    ),
    ("DELETE", "/api/v1/ideas/<int:idea_id>/vote"): Call(
        signed_in(200, anonymous=401), url=lambda w: f"/api/v1/ideas/{w.idea.id}/vote"
    ),
    # Starting a review is the product team's move (app/ideas/workflow.py).
    ("POST", "/api/v1/ideas/<int:idea_id>/status"): Call(
        only(PRODUCT_TEAM, 200, anonymous=401),
        url=lambda w: f"/api/v1/ideas/{w.idea.id}/status",
        data={"status": "under_review"},
    ),
    ("POST", "/api/v1/ideas/<int:idea_id>/merge"): Call(
        only(MODERATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/ideas/{w.idea.id}/merge",
        data=lambda w: {"into": w.other_idea.id},
    ),
    # --- the JSON API: community ---
    ("GET", "/api/v1/ideas/<int:idea_id>/comments"): Call(
        everyone(200), url=lambda w: f"/api/v1/ideas/{w.idea.id}/comments"
    ),
    ("POST", "/api/v1/ideas/<int:idea_id>/comments"): Call(
        signed_in(201, anonymous=401),
        url=lambda w: f"/api/v1/ideas/{w.idea.id}/comments",
        data={"body": "I would buy two."},
    ),
    ("PATCH", "/api/v1/comments/<int:comment_id>"): Call(
        only(MODERATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/comments/{w.comment.id}",
        data={"body": "Edited by someone"},
    ),
    ("DELETE", "/api/v1/comments/<int:comment_id>"): Call(
        only(MODERATORS, 204, anonymous=401), url=lambda w: f"/api/v1/comments/{w.comment.id}"
    ),
    ("PUT", "/api/v1/comments/<int:comment_id>/reactions/<emoji>"): Call(
        signed_in(200, anonymous=401),
        url=lambda w: f"/api/v1/comments/{w.comment.id}/reactions/{quote(THUMBS_UP)}",
    ),
    ("DELETE", "/api/v1/comments/<int:comment_id>/reactions/<emoji>"): Call(
        signed_in(200, anonymous=401),
        url=lambda w: f"/api/v1/comments/{w.comment.id}/reactions/{quote(THUMBS_UP)}",
    ),
    ("PUT", "/api/v1/follows/<kind>/<int:target_id>"): Call(
        signed_in(200, anonymous=401), url=lambda w: f"/api/v1/follows/idea/{w.idea.id}"
    ),
    ("DELETE", "/api/v1/follows/<kind>/<int:target_id>"): Call(
        signed_in(200, anonymous=401), url=lambda w: f"/api/v1/follows/idea/{w.idea.id}"
    ),
    ("GET", "/api/v1/notifications"): Call(signed_in(200, anonymous=401)),
    ("POST", "/api/v1/notifications/read"): Call(signed_in(200, anonymous=401), data={}),
    ("GET", "/api/v1/users/<int:user_id>"): Call(
        everyone(200), url=lambda w: f"/api/v1/users/{w.target.id}"
    ),
    # --- rewards API ---
    ("GET", "/api/v1/me/points"): Call(signed_in(200, anonymous=401)),
    ("GET", "/api/v1/me/ledger"): Call(signed_in(200, anonymous=401)),
    ("GET", "/api/v1/me/redemptions"): Call(signed_in(200, anonymous=401)),
    ("GET", "/api/v1/leaderboard"): Call(everyone(200)),
    ("GET", "/api/v1/rewards"): Call(everyone(200)),
    ("POST", "/api/v1/rewards"): Call(
        only(CURATORS, 201, anonymous=401), data={"name": "Sticker pack", "cost": 10}
    ),
    ("PATCH", "/api/v1/rewards/<int:item_id>"): Call(
        only(CURATORS, 200, anonymous=401),
        url=lambda w: f"/api/v1/rewards/{w.reward.id}",
        data={"stock": 7},
    ),
    # Nobody here has points yet: every signed-in caller reaches the rule, and is refused.
    ("POST", "/api/v1/rewards/<int:item_id>/redemptions"): Call(
        signed_in(409, anonymous=401), url=lambda w: f"/api/v1/rewards/{w.reward.id}/redemptions"
    ),
    ("POST", "/api/v1/users/<int:user_id>/points"): Call(
        admins(201, anonymous=401),
        url=lambda w: f"/api/v1/users/{w.target.id}/points",
        data={"amount": 50, "reason": "Thanks for the meetup"},
    ),
    # --- rewards pages ---
    ("GET", "/points"): Call(signed_in(200, anonymous=LOGIN)),
    ("GET", "/leaderboard"): Call(everyone(200)),
    ("GET", "/rewards"): Call(everyone(200)),
    ("GET", "/rewards/<int:item_id>"): Call(everyone(200), url=lambda w: f"/rewards/{w.reward.id}"),
    # Nobody here has points: every signed-in caller is sent back to the catalog with the reason.
    ("POST", "/rewards/<int:item_id>/redeem"): Call(
        signed_in("302 /rewards", anonymous=LOGIN), url=lambda w: f"/rewards/{w.reward.id}/redeem"
    ),
    ("GET", "/me/rewards"): Call(signed_in(200, anonymous=LOGIN)),
    # The target's request: nobody, staff included, cancels it from their own rewards page.
    ("POST", "/me/rewards/<int:redemption_id>/cancel"): Call(
        signed_in(403, anonymous=LOGIN),
        url=lambda w: f"/me/rewards/{w.redemption.id}/cancel",
    ),
    # --- rewards admin pages ---
    ("GET", "/admin/rewards/rules"): Call(admins(200, anonymous=LOGIN)),
    ("POST", "/admin/rewards/rules"): Call(
        admins("302 /admin/rewards/rules", anonymous=LOGIN),
        data={"rule": "supporter", "supporter-amount": "2", "supporter-daily_cap": "40"},
    ),
    ("GET", "/admin/rewards/items"): Call(only(CURATORS, 200, anonymous=LOGIN)),
    ("GET", "/admin/rewards/items/new"): Call(only(CURATORS, 200, anonymous=LOGIN)),
    ("POST", "/admin/rewards/items/new"): Call(
        only(CURATORS, "302 /admin/rewards/items", anonymous=LOGIN),
        data={"name": "Sticker pack", "cost": "10"},
    ),
    ("GET", "/admin/rewards/items/<int:item_id>"): Call(
        only(CURATORS, 200, anonymous=LOGIN), url=lambda w: f"/admin/rewards/items/{w.reward.id}"
    ),
    ("POST", "/admin/rewards/items/<int:item_id>"): Call(
        only(CURATORS, "302 /admin/rewards/items", anonymous=LOGIN),
        url=lambda w: f"/admin/rewards/items/{w.reward.id}",
        data={"name": "Mug", "cost": "12", "stock": "7"},
    ),
    ("GET", "/admin/rewards/queue"): Call(only(CURATORS, 200, anonymous=LOGIN)),
    # The target's request (World.redemption) is there to decide.
    ("POST", "/admin/rewards/redemptions/<int:redemption_id>/fulfil"): Call(
        only(CURATORS, "302 /admin/rewards/queue", anonymous=LOGIN),
        url=lambda w: f"/admin/rewards/redemptions/{w.redemption.id}/fulfil",
    ),
    ("POST", "/admin/rewards/redemptions/<int:redemption_id>/cancel"): Call(
        only(CURATORS, "302 /admin/rewards/queue", anonymous=LOGIN),
        url=lambda w: f"/admin/rewards/redemptions/{w.redemption.id}/cancel",
    ),
    ("GET", "/admin/rewards/grants"): Call(admins(200, anonymous=LOGIN)),
    ("POST", "/admin/rewards/grants"): Call(
        admins("302 /admin/rewards/grants", anonymous=LOGIN),
        data={"email": TARGET_EMAIL, "amount": "50", "reason": "Thanks for the meetup"},
    ),
}


def routes_in(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.rule not in NOT_CHECKED_RULES
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_expectations(app):
    routes = routes_in(app)
    assert ("GET", "/account") in routes  # the map really was read

    assert set(EXPECTED) - routes == set(), "expectations for routes that no longer exist"
    assert routes - set(EXPECTED) == set(), "routes without expectations: add them to EXPECTED"


def test_effect_checks_name_who_is_allowed():
    for key, call in EXPECTED.items():
        assert (call.done is None) == (not call.allowed), key
        assert set(call.allowed) <= set(PERSONAS) - {ANONYMOUS}, key


def test_every_expectation_covers_every_persona():
    incomplete = {key for key, call in EXPECTED.items() if set(call.expected) != set(PERSONAS)}
    assert incomplete == set()


def _outcome(response) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return f"{response.status_code} {urlsplit(response.headers['Location']).path}"
    return str(response.status_code)


def _resolve(value, world: World):
    return value(world) if callable(value) else value


@pytest.mark.parametrize(
    ("method", "rule", "persona"),
    [(method, rule, persona) for method, rule in EXPECTED for persona in PERSONAS],
)
def test_route_answers_each_persona_as_expected(client, db, login, method, rule, persona):
    call = EXPECTED[(method, rule)]
    world = World(persona)
    url = rule if call.url is None else _resolve(call.url, world)
    data = _resolve(call.data, world)
    headers = {}
    kwargs: dict = {}
    if rule.startswith("/api/"):
        if world.bearer:
            headers["Authorization"] = f"Bearer {world.bearer}"
        if data is not None:
            kwargs["json"] = data
    else:
        if world.actor is not None:
            login(world.actor)
        if method == "POST":
            kwargs["data"] = {"csrf_token": client.csrf_token(), **(data or {})}

    with client.open(url, method=method, headers=headers, **kwargs) as response:
        actual = _outcome(response)
        body = response.get_data(as_text=True)[:300]

    expected = str(call.expected[persona])
    assert re.fullmatch(expected, actual), (
        f"{method} {url} as {persona}: expected {expected}, got {actual}\n{body}"
    )
    if call.done is not None:
        assert call.done(world) is (persona in call.allowed), f"{method} {url} as {persona}"


# --- CSRF on HTML forms ---------------------------------------------------------------------


def _display_name(user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(select(User.display_name).where(User.id == user_id))


def _roles(user_id: int) -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_profile_form_without_csrf_token_is_400_and_changes_nothing(client, login):
    user = make_member(display_name="Old Name")
    user_id = user.id
    login(user)

    response = client.post("/account/profile", data={"display_name": "New Name"})

    assert response.status_code == 400
    assert response.content_type.startswith("text/html")
    assert _display_name(user_id) == "Old Name"


def test_profile_form_with_a_forged_csrf_token_is_400_and_changes_nothing(client, login):
    user = make_member(display_name="Old Name")
    user_id = user.id
    login(user)

    response = client.post(
        "/account/profile", data={"display_name": "New Name", "csrf_token": "forged"}
    )

    assert response.status_code == 400
    assert _display_name(user_id) == "Old Name"


def test_role_form_without_csrf_token_is_400_and_grants_nothing(client, login):
    admin = make_member(roles=(ADMIN,))
    target = make_member()
    target_id = target.id
    login(admin)
    assert _roles(target_id) == set()

    response = client.post(f"/admin/users/{target_id}/roles/moderator/grant")

    assert response.status_code == 400
    assert _roles(target_id) == set()


def test_token_form_without_csrf_token_is_400_and_creates_no_token(client, login):
    login(make_member())
    assert _count(ApiToken) == 0

    response = client.post("/account/tokens", data={"name": "script"})

    assert response.status_code == 400
    assert _count(ApiToken) == 0


def test_register_form_without_csrf_token_is_400_and_adds_no_one(client):
    assert _count(User) == 0

    response = client.post("/register", data=NEW_PERSON)

    assert response.status_code == 400
    assert _count(User) == 0


def test_logout_without_csrf_token_is_400_and_keeps_the_session(client, login):
    login(make_member())
    assert client.get("/account").status_code == 200

    response = client.post("/logout")

    assert response.status_code == 400
    assert client.get("/account").status_code == 200
