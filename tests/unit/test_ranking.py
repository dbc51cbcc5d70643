"""api.ranking: preference validation, tag resolution, scoring and its explanation."""

from __future__ import annotations

import itertools

import pytest

from core.colors import delta_e, hex_to_rgb, rgb_to_lab
from query.recommendation.ranking import (
    MAX_LIMIT,
    MAX_TAGS,
    PreferenceError,
    Preferences,
    from_original,
    parse_preferences,
    resolve_tags,
    score,
)


def payload(
    colors=(("#ff0000", 87.5), ("#0000ff", 12.5)),
    orientation="landscape",
    width=1600,
    height=1200,
    tags=("dog", "person"),
    make="canon",
) -> dict:
    """Shaped like streams.enrich.embedding.payload."""
    return {
        "orientation": orientation,
        "width": width,
        "height": height,
        "make": make,
        "year": 2021,
        "tags": sorted(tags),
        "tag_sources": {tag: ["detr"] for tag in tags},
        "colors": [{"hex": h, "coverage": c} for h, c in colors],
    }


def ranked(body: dict, item: dict) -> tuple[float, dict]:
    prefs = parse_preferences(body)
    return score(prefs, item, resolve_tags(prefs.tags))


# --- parse_preferences: accepted -------------------------------------------------------------------------


def test_full_valid_body_is_normalised():
    prefs = parse_preferences(
        {
            "color": "#FF8800",
            "width": 1920,
            "height": 1080.0,
            "orientation": "landscape",
            "tags": ["  Dogs ", "CAT", "   "],
            "make": "  Canon ",
            "limit": 25,
        }
    )
    assert prefs == Preferences(
        color="#ff8800", width=1920, height=1080, orientation="landscape", tags=["dogs", "cat"], make="canon", limit=25
    )
    assert isinstance(prefs.height, int)


def test_colour_without_hash_gets_one():
    assert parse_preferences({"color": "AbCdEf"}).color == "#abcdef"


def test_empty_body_gives_defaults():
    assert parse_preferences({}) == Preferences()
    assert parse_preferences({}).limit == 10


def test_empty_and_null_values_are_absent():
    prefs = parse_preferences({"color": "", "width": None, "height": "", "orientation": None, "tags": None, "make": ""})
    assert prefs == Preferences()


@pytest.mark.parametrize("limit", [1, MAX_LIMIT])
def test_limit_bounds_are_inclusive(limit):
    assert parse_preferences({"limit": limit}).limit == limit


def test_exactly_max_tags_is_fine():
    assert len(parse_preferences({"tags": [f"t{i}" for i in range(MAX_TAGS)]}).tags) == MAX_TAGS


def test_a_tag_is_at_most_64_characters():
    assert parse_preferences({"tags": ["x" * 64]}).tags == ["x" * 64]
    with pytest.raises(PreferenceError, match="at most 64 characters"):
        parse_preferences({"tags": ["x" * 65]})


# --- parse_preferences: rejected ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"color": "red"}, "color"),
        ({"color": "#12345"}, "color"),
        ({"color": "#gggggg"}, "color"),
        ({"color": "#ff00001"}, "color"),
        ({"tags": ["a", "b", "c", "d", "e", "f"]}, "tags"),
        ({"tags": "dog"}, "tags"),
        ({"tags": ["dog", 3]}, "tags"),
        ({"width": -100}, "width"),
        ({"width": 0}, "width"),
        ({"width": True}, "width"),
        ({"width": 640.5}, "width"),
        ({"width": "640"}, "width"),
        ({"width": 10**9}, "width"),
        ({"width": float("inf")}, "width"),
        ({"width": float("nan")}, "width"),
        ({"height": -1}, "height"),
        ({"height": 0.25}, "height"),
        ({"height": False}, "height"),
        ({"orientation": "diagonal"}, "orientation"),
        ({"orientation": "Landscape "}, "orientation"),
        ({"make": 42}, "make"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_LIMIT + 1}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"limit": True}, "limit"),
        ({"colour": "#ff0000"}, "colour"),
        ({"color": "#ff0000", "size": 3, "aspect": 1}, "aspect"),
    ],
)
def test_invalid_preferences_name_the_field(body, field):
    with pytest.raises(PreferenceError) as err:
        parse_preferences(body)
    assert field in str(err.value)


def test_unknown_keys_are_listed():
    with pytest.raises(PreferenceError, match="unknown") as err:
        parse_preferences({"color": "#ff0000", "size": 3, "aspect": 1})
    assert "size" in str(err.value) and "aspect" in str(err.value)


@pytest.mark.parametrize("body", [None, [], ["color", "#ff0000"], "color=#ff0000", 42, True])
def test_non_object_body_is_rejected(body):
    with pytest.raises(PreferenceError, match="object"):
        parse_preferences(body)


def test_preference_error_is_a_value_error():
    assert issubclass(PreferenceError, ValueError)


# --- resolve_tags ----------------------------------------------------------------------------------------------


def test_resolve_tags():
    assert resolve_tags(["dogs", "dog", "unicorn"]) == {"dogs": "dog", "dog": "dog", "unicorn": None}


@pytest.mark.parametrize(
    "word, label",
    [
        ("cats", "cat"),
        ("buses", "bus"),
        ("person", "person"),
        ("teddy bear", "teddy bear"),
        ("pizzas", "pizza"),
        ("n/a", None),
        ("s", None),
        ("", None),
    ],
)
def test_resolve_tag_words(word, label):
    assert resolve_tags([word]) == {word: label}


# --- score ----------------------------------------------------------------------------------------------------------


def test_exact_match_beats_orientation_mismatch_and_far_colour():
    body = {"color": "#ff0000", "orientation": "landscape"}
    exact, why = ranked(body, payload())
    wrong_orientation, _ = ranked(body, payload(orientation="portrait"))
    far_colour, _ = ranked(body, payload(colors=(("#0000ff", 87.5), ("#00ff00", 12.5))))
    assert exact > wrong_orientation
    assert exact > far_colour
    assert why["orientation"] == {"wanted": "landscape", "actual": "landscape", "match": True}


def test_nearer_colour_scores_higher():
    body = {"color": "#ff0000"}
    scores = [ranked(body, payload(colors=((h, 100.0),)))[0] for h in ("#ff0000", "#f01010", "#ff8000", "#00ff00")]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4


def test_more_coverage_of_the_wanted_colour_scores_higher():
    body = {"color": "#0000ff"}
    mostly, _ = ranked(body, payload(colors=(("#0000ff", 80.0), ("#ffff00", 20.0))))
    partly, _ = ranked(body, payload(colors=(("#ffff00", 80.0), ("#0000ff", 20.0))))
    assert mostly > partly


def test_why_explains_every_component():
    body = {
        "color": "#ff0000",
        "orientation": "portrait",
        "width": 800,
        "height": 600,
        "tags": ["dogs", "cats", "unicorn"],
        "make": "Canon",
    }
    item = payload(
        colors=(("#0000ff", 20.0), ("#f80a08", 80.0)),
        orientation="landscape",
        width=1600,
        height=1200,
        tags=("dog", "person"),
    )
    value, why = ranked(body, item)
    assert 0.0 <= value <= 1.0
    expected_de = float(delta_e(rgb_to_lab(hex_to_rgb("#f80a08")), rgb_to_lab(hex_to_rgb("#ff0000"))))
    assert why["color"]["wanted"] == "#ff0000"
    assert why["color"]["matched"] == "#f80a08"  # the nearest, not the first listed
    assert why["color"]["delta_e"] == pytest.approx(expected_de, abs=0.01)
    assert 0 < why["color"]["delta_e"] < 5
    assert why["color"]["coverage"] == 80.0
    assert why["orientation"] == {"wanted": "portrait", "actual": "landscape", "match": False}
    assert why["size"]["wanted"] == [800, 600] and why["size"]["actual"] == [1600, 1200]
    assert why["size"]["fit"] == pytest.approx(1.0)  # big enough, same aspect
    assert why["tags"] == {
        "matched": ["dog"],
        "missing": ["cat"],
        "resolved_from": {"dog": ["dogs"]},
        "sources": {"dog": ["detr"]},
        "unresolved": ["unicorn"],
        "paths": {"dogs": {"path": "tag", "by": ["dog"]}, "cats": {"path": "none"}, "unicorn": {"path": "none"}},
    }
    assert why["make"] == {"wanted": "canon", "actual": "canon", "match": True}


def test_size_fit_drops_for_small_or_misshapen_images():
    body = {"width": 800, "height": 600}
    big, why_big = ranked(body, payload(width=1600, height=1200))
    small, why_small = ranked(body, payload(width=400, height=300))
    wrong_shape, why_shape = ranked(body, payload(width=1600, height=1600))
    assert why_big["size"]["fit"] == pytest.approx(1.0)
    assert big > small and big > wrong_shape
    assert 0 < why_small["size"]["fit"] < 1 and 0 < why_shape["size"]["fit"] < 1


def test_width_alone_only_asks_for_enough_width():
    ok, _ = ranked({"width": 1000}, payload(width=1200, height=200))
    narrow, _ = ranked({"width": 1000}, payload(width=500, height=2000))
    assert ok == pytest.approx(1.0) and narrow < ok


def test_missing_size_in_payload_is_no_fit():
    value, why = ranked({"width": 800}, payload(width=None, height=None))
    assert value == 0.0 and why["size"]["actual"] is None


def test_tags_matched_and_missing():
    all_there, why_all = ranked({"tags": ["dog", "person"]}, payload(tags=("dog", "person", "car")))
    half, why_half = ranked({"tags": ["dog", "bicycle"]}, payload(tags=("dog", "person")))
    none, why_none = ranked({"tags": ["zebra"]}, payload(tags=("dog",)))
    assert all_there > half > none
    assert all_there == pytest.approx(1.0) and none == 0.0
    assert why_half["tags"] == {
        "matched": ["dog"],
        "missing": ["bicycle"],
        "resolved_from": {"dog": ["dog"]},
        "sources": {"dog": ["detr"]},
        "unresolved": [],
        "paths": {"dog": {"path": "tag", "by": ["dog"]}, "bicycle": {"path": "none"}},
    }
    assert why_none["tags"]["missing"] == ["zebra"]


def test_make_must_match_case_insensitively():
    match, why = ranked({"make": "NIKON"}, payload(make="nikon"))
    miss, why_miss = ranked({"make": "NIKON"}, payload(make="canon"))
    assert match == 1.0 and why["make"]["match"] is True
    assert miss == 0.0 and why_miss["make"]["match"] is False


def test_no_preferences_scores_zero_and_explains_nothing():
    assert ranked({}, payload()) == (0.0, {})


def test_no_colours_in_payload():
    value, why = ranked({"color": "#ff0000"}, payload(colors=()))
    assert value == 0.0 and why["color"]["matched"] is None


def test_score_does_not_depend_on_colour_order():
    body = {"color": "#ff4000", "orientation": "landscape", "tags": ["dog"]}
    colours = [("#ff0000", 50.0), ("#ff8000", 30.0), ("#0000ff", 15.0), ("#ffffff", 5.0)]
    results = [ranked(body, payload(colors=order)) for order in itertools.permutations(colours)]
    first_value, first_why = results[0]
    for value, why in results:
        assert value == pytest.approx(first_value, abs=1e-12)
        assert why == first_why


@pytest.mark.parametrize(
    "body",
    [
        {"color": "#ff0000"},
        {"color": "#00ff00", "orientation": "square"},
        {"color": "#808080", "width": 100, "height": 5000, "tags": ["dog", "cats", "unicorn", "car", "zebras"]},
        {"width": 100_000, "height": 1, "make": "leica"},
        {"orientation": "portrait", "tags": ["person"]},
    ],
)
@pytest.mark.parametrize(
    "item",
    [
        payload(),
        payload(colors=(("#ff0000", 100.0), ("#ff0000", 100.0))),  # overlapping coverage: more than 100 in total
        payload(colors=(("#000000", 100.0),), orientation="square", width=1, height=1, tags=()),
        payload(colors=(), orientation=None, width=None, height=None, tags=(), make=None),
        payload(
            colors=(("#00ff00", 60.0), ("#808080", 40.0)),
            orientation="portrait",
            width=3000,
            height=4000,
            tags=("dog", "car", "zebra", "person"),
        ),
    ],
)
def test_every_score_is_within_zero_and_one(body, item):
    value, _ = ranked(body, item)
    assert 0.0 <= value <= 1.0


def test_words_resolving_to_one_label_count_once():
    prefs = parse_preferences({"tags": ["dog", "dogs"]})
    value, why = score(prefs, {"tags": ["dog"]}, resolve_tags(prefs.tags))
    assert value == 1.0 and why["tags"]["matched"] == ["dog"]
    prefs = parse_preferences({"tags": ["dog", "unicorn"]})
    value, why = score(prefs, {"tags": ["dog"]}, resolve_tags(prefs.tags))
    assert value == 0.5 and why["tags"]["unresolved"] == ["unicorn"]


def test_a_kind_of_the_label_meets_it_a_broader_one_half_and_clip_a_word_it_finds():
    from query.recommendation.ranking import BROADER_CREDIT, Wanted, values

    prefs = parse_preferences({"tags": ["dog"]})
    dog = Wanted({"dog": "dog"}, kinds={"dog": ("puppy",)}, broader={"dog": ("animal",)})
    value, why = score(prefs, {"tags": ["puppy"], "tag_sources": {"puppy": ["clip"]}}, dog)
    assert value == 1.0 and why["tags"]["matched"] == ["dog"] and why["tags"]["missing"] == []
    assert why["tags"]["paths"]["dog"] == {"path": "kind", "by": ["puppy"]}
    assert why["tags"]["sources"] == {"puppy": ["clip"]}
    value, why = score(prefs, {"tags": ["animal"]}, dog)
    assert value == BROADER_CREDIT and why["tags"]["paths"]["dog"] == {"path": "broader", "by": ["animal"]}
    assert why["tags"]["missing"] == ["dog"]
    value, why = score(prefs, {"tags": ["cat"]}, dog)
    assert value == 0.0 and why["tags"]["paths"]["dog"] == {"path": "none"}
    # CLIP finding the word meets it where no tag does, resolved or not.
    prefs = parse_preferences({"tags": ["dog", "lantern"]})
    both = Wanted({"dog": "dog", "lantern": None})
    value, why = score(prefs, {"tags": ["dog"]}, both, {"lantern": 0.31})
    assert value == 1.0 and why["tags"]["paths"]["lantern"] == {"path": "clip", "probability": 0.31}
    assert why["tags"]["unresolved"] == ["lantern"] and why["tags"]["paths"]["dog"]["path"] == "tag"
    assert values(prefs, [{"tags": ["dog"]}] * 2, both, [{"lantern": 0.31}, {}]) == [1.0, 0.5]


def test_wanted_from_the_resolution_lists_every_label_that_may_meet_it():
    from query.recommendation.ranking import Wanted

    wanted = Wanted.of(
        {
            "puppy": {"label": "puppy", "score": 1.0, "via": "exact", "broader": ["dog"]},
            "pets": {"label": "animal", "score": 1.0, "via": "lemma", "kinds": ["cat", "dog"]},
            "zzz": {"label": None, "score": 0.1, "via": "none"},
        }
    )
    assert wanted.resolved == {"puppy": "puppy", "pets": "animal", "zzz": None}
    assert wanted.labels() == ["animal", "cat", "dog", "puppy"]


def test_values_for_many_candidates_equal_each_score():
    import random

    from query.recommendation.ranking import stated, values

    rng = random.Random(5)
    payloads = [
        {
            "orientation": rng.choice(["landscape", "portrait"]),
            "width": rng.randint(100, 5000),
            "height": rng.randint(100, 5000),
            "tags": ["dog"] if rng.random() < 0.5 else [],
            "make": rng.choice(["canon", "sony", None]),
            "colors": [
                {"hex": f"#{rng.randrange(1 << 24):06x}", "coverage": c}
                for c in (60.0, 25.0, 10.0, 5.0)[: rng.randint(0, 4)]
            ],
        }
        for _ in range(40)
    ]
    for body in (
        {"color": "#3366cc", "orientation": "landscape", "width": 800, "tags": ["dogs", "unicorn"]},
        {"make": "canon", "height": 600},
        {},
    ):
        prefs = parse_preferences(body)
        resolved = resolve_tags(prefs.tags)
        for payload, value in zip(payloads, values(prefs, payloads, resolved)):
            alone, why = score(prefs, payload, resolved)
            assert value == pytest.approx(alone, abs=1e-12)
            assert stated(prefs) == len(why)


# --- from_original: the original client's {"preferences": {...}} ------------------------------------------

ORIGINAL_BODY = {
    "preferences": {
        "dominant_color": "#b14343",
        "imagewidth": 800,
        "imageheight": 600,
        "orientation": 0,
        "tags": ["cat", "person"],
        "make": "Canon",
    }
}


def test_the_originals_body_becomes_todays():
    today = from_original(ORIGINAL_BODY)
    assert today == {
        "color": "#b14343",
        "width": 800,
        "height": 600,
        "orientation": "landscape",
        "tags": ["cat", "person"],
        "make": "Canon",
    }
    assert parse_preferences(today) == Preferences(
        color="#b14343", width=800, height=600, orientation="landscape", tags=["cat", "person"], make="canon"
    )


def test_todays_body_passes_unchanged():
    body = {"color": "#ff0000", "orientation": "portrait", "limit": 5}
    assert from_original(body) is body
    assert from_original([1]) == [1]  # parse_preferences refuses it, as before


@pytest.mark.parametrize(
    "value, orientation",
    [
        (0, "landscape"),  # 0/1 in the order the original offered them: "landscape or portrait"
        (1, "portrait"),
        ("0", "landscape"),
        ("1", "portrait"),
        ("landscape", "landscape"),
        (" Portrait ", "portrait"),
        ("square", "square"),
    ],
)
def test_the_originals_orientation(value, orientation):
    assert from_original({"preferences": {"orientation": value}}) == {"orientation": orientation}


def test_the_originals_form_values_as_text():
    today = from_original({"preferences": {"imagewidth": "800", "imageheight": " 600 ", "tags": "cat, person"}})
    assert parse_preferences(today) == Preferences(width=800, height=600, tags=["cat", "person"])


def test_the_originals_empty_values_are_absent_and_user_and_limit_may_sit_beside():
    body = {"preferences": {"dominant_color": "", "make": None, "tags": []}, "user": "ann", "limit": 3}
    assert from_original(body) == {"user": "ann", "limit": 3, "tags": []}
    assert from_original({"preferences": {}}) == {}


@pytest.mark.parametrize(
    "original, field",
    [
        ({"dominant_color": "red"}, "preferences.dominant_color"),
        ({"dominant_color": 0xB14343}, "preferences.dominant_color"),
        ({"imagewidth": -800}, "preferences.imagewidth"),
        ({"imagewidth": "800px"}, "preferences.imagewidth"),
        ({"imageheight": 600.5}, "preferences.imageheight"),
        ({"imageheight": True}, "preferences.imageheight"),
        ({"orientation": 2}, "preferences.orientation"),
        ({"orientation": -1}, "preferences.orientation"),
        ({"orientation": True}, "preferences.orientation"),
        ({"orientation": 0.5}, "preferences.orientation"),
        ({"orientation": "diagonal"}, "preferences.orientation"),
        ({"orientation": [0]}, "preferences.orientation"),
        ({"tags": ["a", "b", "c", "d", "e", "f"]}, "preferences.tags"),
        ({"tags": ["cat", 3]}, "preferences.tags"),
        ({"tags": {"cat": 1}}, "preferences.tags"),
        ({"make": 42}, "preferences.make"),
        ({"colour": "#b14343"}, "colour"),
    ],
)
def test_the_originals_bad_values_name_the_originals_field(original, field):
    with pytest.raises(PreferenceError) as err:
        from_original({"preferences": original})
    assert field in str(err.value)
    # today's name is not what the message is about
    assert not str(err.value).startswith(("color", "width", "height"))


def test_the_originals_messages_read_well():
    with pytest.raises(PreferenceError) as err:
        from_original({"preferences": {"dominant_color": "red"}})
    assert str(err.value) == "preferences.dominant_color must be \"#rrggbb\", got 'red'"
    with pytest.raises(PreferenceError) as err:
        from_original({"preferences": {"orientation": 2}})
    assert "0 (landscape), 1 (portrait)" in str(err.value)
    with pytest.raises(PreferenceError) as err:
        from_original({"preferences": {"tags": list("abcdef")}})
    assert str(err.value) == "preferences.tags: at most 5 tags, got 6"


@pytest.mark.parametrize("preferences", [None, [], "dominant_color=#b14343", 0])
def test_the_originals_preferences_must_be_an_object(preferences):
    with pytest.raises(PreferenceError, match="preferences must be a JSON object"):
        from_original({"preferences": preferences})


def test_the_originals_preferences_and_todays_names_do_not_mix():
    with pytest.raises(PreferenceError, match="beside") as err:
        from_original({"preferences": {"make": "Canon"}, "color": "#ff0000"})
    assert "color" in str(err.value)
    with pytest.raises(PreferenceError, match="unknown original preference") as err:
        from_original({"preferences": {"make": "Canon", "color": "#ff0000", "width": 3}})
    assert "color" in str(err.value) and "width" in str(err.value)


class _Users:
    def get(self, name):
        return (
            {"preferences": {"color": "#0000ff", "make": "sony"}, "likes": [], "dislikes": []}
            if name == "ann"
            else None
        )


class _Db:
    users = _Users()


def test_the_recommend_service_takes_the_originals_body():
    from query.recommendation import service

    asked = service.prepare(None, ORIGINAL_BODY)
    assert asked.prefs == Preferences(
        color="#b14343", width=800, height=600, orientation="landscape", tags=["cat", "person"], make="canon"
    )
    assert asked.user is None
    # A named user's saved preferences fill what the original's body leaves out; its own win.
    asked = service.prepare(_Db(), {"preferences": {"dominant_color": "#b14343", "orientation": 1}, "user": "ann"})
    assert asked.user == "ann"
    assert asked.prefs == Preferences(color="#b14343", orientation="portrait", make="sony")
    with pytest.raises(PreferenceError, match="preferences.imagewidth"):
        service.prepare(None, {"preferences": {"imagewidth": 0}})
