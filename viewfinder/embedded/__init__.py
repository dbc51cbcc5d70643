"""Servers of the embedded default stack, started as child processes on 127.0.0.1 and free ports.

The test session starts the very same servers through these modules.
"""
