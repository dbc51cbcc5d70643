"""Pure stage logic: bytes or records in, results out. No Kafka, no storage, so batch tools can reuse it."""


class BadImage(ValueError):
    """The input cannot be processed; the message is the reason a person reads in the dead letter."""
