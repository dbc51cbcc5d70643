"""Where every page's database queries run: off the Bokeh server's event loop, so one slow
query never freezes the other pages. Bounded, so that the pages never take every connection
of the pool (which refuses rather than waits) and many open pages cannot swamp the database."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dashboard-queries")


async def run(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(EXECUTOR, fn, *args)
