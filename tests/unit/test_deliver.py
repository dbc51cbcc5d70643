"""A stage's output counts as sent only once the broker has acknowledged it."""

from __future__ import annotations

import asyncio

from streams import stages


class Refusing:
    """A channel whose broker refuses each key's first ``refusals[key]`` messages after taking them."""

    def __init__(self, refusals: dict[str, int]):
        self.refusals, self.acknowledged, self.sends = dict(refusals), [], 0

    async def send(self, key, value):
        self.sends += 1
        delivery = asyncio.get_running_loop().create_future()

        def settle():
            if self.refusals.get(key, 0) > 0:
                self.refusals[key] -= 1
                delivery.set_exception(ConnectionError("refused"))  # aiokafka's UnknownError, in the faults suite
            else:
                self.acknowledged.append((key, value))
                delivery.set_result(None)

        asyncio.get_running_loop().call_soon(settle)  # the broker answers later, as a real one does
        return delivery


def test_refused_messages_are_sent_again_until_acknowledged(monkeypatch):
    monkeypatch.setattr(stages, "FIRST_DELAY", 0.0)
    channel = Refusing({"b": 2, "c": 1})
    messages = [("a", 1), ("b", 2), ("c", 3)]
    asyncio.run(stages.deliver(channel, messages))
    assert sorted(channel.acknowledged) == messages
    assert channel.sends == 3 + 2 + 1  # only the refused ones again


def test_nothing_returns_before_the_broker_answers(monkeypatch):
    monkeypatch.setattr(stages, "FIRST_DELAY", 0.0)
    channel = Refusing({})

    async def run():
        task = asyncio.ensure_future(stages.deliver(channel, [("a", 1)]))
        await asyncio.sleep(0)  # send handed over, the answer not yet in
        assert not task.done()
        await task

    asyncio.run(run())
    assert channel.acknowledged == [("a", 1)]
