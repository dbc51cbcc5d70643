"""`schemas.pipeline` is the one declaration of the pipeline: the stages chain through their
topics, and the worker, the command line and the dashboards take their names from it."""

from __future__ import annotations

import faust
import pytest

from schemas.pipeline import ARRIVED, DEAD_LETTERS, FEEDBACK, STAGE_NAMES, STAGES, TOPICS, describe, passed, stage
from streams import stages
from streams.resources import Resources
from tests.support import stack_settings


def test_each_stage_reads_what_the_one_before_wrote():
    assert STAGES[0].consumes == ARRIVED and STAGES[-1].produces is None
    for before, after in zip(STAGES, STAGES[1:]):
        assert after.consumes == before.produces
    # Every record extends the record before it: an event carries everything learnt so far.
    for s in STAGES[1:]:
        assert issubclass(s.consumes.record, STAGES[0].consumes.record)


def test_names_are_unique_and_progress_counts_them_in_order():
    assert len(set(STAGE_NAMES)) == len(STAGES) and len({t.name for t in TOPICS}) == len(TOPICS)
    assert [passed(name) for name in STAGE_NAMES] == list(range(1, len(STAGES) + 1))
    with pytest.raises(KeyError, match="stages: exif"):
        stage("stored")
    assert all(s.name in describe() and s.does in describe() for s in STAGES)


def test_the_worker_has_an_agent_per_stage_on_its_declared_topic(tmp_path):
    app = faust.App("viewfinder-declaration-test", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
    channels = {t.name: app.topic(t.name, value_type=t.record, key_type=str) for t in TOPICS}
    agents = stages.register(app, channels, Resources(stack_settings(tmp_path)))
    assert list(agents) == [*STAGE_NAMES, "deadletters", "feedback"]
    for s in STAGES:
        assert agents[s.name].channel is channels[s.consumes.name]
    assert agents["deadletters"].channel is channels[DEAD_LETTERS.name]
    assert agents["feedback"].channel is channels[FEEDBACK.name]


def test_the_command_line_offers_the_declared_stages(capsys):
    from viewfinder.cli import main

    with pytest.raises(SystemExit):
        main(["deadletters", "--stage", "stored"])
    assert ", ".join(f"'{name}'" for name in STAGE_NAMES) in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    assert describe() in capsys.readouterr().out
