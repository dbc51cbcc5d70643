"""What each recommendation route does between a parsed request and its answer: a named user's
saved preferences and opinions merged in, tags resolved, candidates ranked, explained."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from core.ids import is_image_id
from core.labels import union_labels
from schemas.records import Feedback

from . import ranking, recommender
from .ranking import PreferenceError

USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SIGNALS = ("like", "dislike", "view")


class NotFound(LookupError):
    """An unknown user or image; the message says which."""


@dataclass
class Request:
    """A recommendation request once the user's saved preferences are merged in."""

    prefs: ranking.Preferences
    user: str | None
    opinions: recommender.Opinions | None


def valid_user_name(name: object) -> bool:
    return isinstance(name, str) and USER_NAME.match(name) is not None


def prepare(db, body: dict) -> Request:
    """The preferences to rank by: the body's, over the named user's saved ones. The original
    client's ``{"preferences": {...}}`` is taken too (`ranking.from_original`). Raises
    PreferenceError for bad preferences, NotFound for an unknown user."""
    body = dict(ranking.from_original(body))
    user_name = body.pop("user", None)
    opinions = None
    if user_name is not None:
        user = db.users.get(str(user_name))
        if user is None:
            raise NotFound(f"no user {user_name!r}; create one with PUT /recommend/users/<name>")
        body = {**user["preferences"], **{k: v for k, v in body.items() if v not in (None, "", [])}}
        opinions = recommender.Opinions(user["likes"], user["dislikes"])
    return Request(ranking.parse_preferences(body), user_name, opinions)


def recommend(
    index, request: Request, resolver, embedder=None, clip_threshold: float = 0.1, vocabulary: tuple = ()
) -> dict:
    """``embedder`` (CLIP, where its weights exist): the wanted words also find images by CLIP
    zero-shot against ``vocabulary`` (by default the labels CLIP may give), at the pipeline's CLIP
    tag threshold."""
    resolution = ranking.tag_resolution(request.prefs.tags, resolver)
    wanted = ranking.Wanted.of(resolution)
    resolved = wanted.resolved
    words = None
    if embedder is not None and request.prefs.tags:
        words = embedder.word_finder(request.prefs.tags, vocabulary or union_labels(), clip_threshold)
    results = recommender.recommend(index, request.prefs, wanted, request.opinions, words)
    return {
        "results": results,
        "resolved_tags": resolved,
        "tag_resolution": resolution,
        "user": request.user,
        "count": len(results),
    }


def search_words(text: str) -> list[str]:
    """What free text is resolved as: the whole text, then its longer words."""
    return [text.lower(), *[w for w in text.lower().split() if len(w) > 2][: ranking.MAX_TAGS]]


def search(db, index, text: str, limit: int, resolver, embedder) -> dict:
    """Free text over CLIP, tags and descriptions (see recommender.search)."""
    resolution = ranking.tag_resolution(search_words(text), resolver)
    labels = sorted({r["label"] for r in resolution.values() if r["label"]})
    vector = embedder.embed_texts([text])[0] if embedder else None
    described = db.unsplash.described(text, 200)
    results = recommender.search(index, text, labels, vector, described, limit)
    return {
        "q": text,
        "results": results,
        "tag_resolution": resolution,
        "clip": vector is not None,
        "count": len(results),
    }


def similar(index, image_id: str, limit: int) -> dict:
    found = recommender.similar(index, image_id, limit)
    if found is None:
        raise NotFound(f"no enriched image {image_id}")
    space, results = found
    return {"like": image_id, "space": space, "results": results, "count": len(results)}


def save_user(db, name: str, body: dict) -> dict:
    """Keep the preferences ``body`` states (any of recommend's); the user as stored."""
    prefs = ranking.parse_preferences(body)
    db.users.save(name, {k: v for k, v in vars(prefs).items() if k in body})
    return db.users.get(name)


def feedback(db, body: dict, own: bool = False) -> Feedback:
    """The feedback event for {"user", "image", "signal"}. Raises PreferenceError for a bad body,
    NotFound for an unknown user or image. ``own``: the user is the caller's own, whose profile
    starts with their first feedback."""
    user, image, signal = body.get("user"), body.get("image"), body.get("signal")
    if signal not in SIGNALS:
        raise PreferenceError(f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
    if not valid_user_name(user):
        raise PreferenceError("user must be a user name")
    if not is_image_id(image):
        raise PreferenceError("image must be an image id")
    if own:
        db.users.ensure(user)
    elif db.users.get(user) is None:
        raise NotFound(f"no user {user!r}; create one with PUT /recommend/users/<name>")
    if db.images.stored_object(image) is None:
        raise NotFound(f"no image {image}")
    return Feedback(
        event_id=str(uuid.uuid4()), user=user, image_id=image, signal=signal, at=datetime.now(UTC).isoformat()
    )
