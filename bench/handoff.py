"""What handing a plain handler to a thread costs: run_in_executor against our ThreadPool.

32 tasks on a uvloop event loop each hand a trivial function to a pool of 4 threads,
20,000 calls in all, alternating rounds; prints microseconds per call (wall time, so the
GIL hand-offs count). Run it with the project's venv:

    .venv/bin/python bench/handoff.py [--calls 20000] [--tasks 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from scaffold.runtime.threadpool import ThreadPool


def work(value: int) -> int:
    return value + 1


async def per_call_us(hand_off: Callable[[int], Awaitable[Any]], calls: int, tasks: int) -> float:
    async def one(count: int) -> None:
        for value in range(count):
            await hand_off(value)

    started = time.perf_counter()
    await asyncio.gather(*(one(calls // tasks) for _ in range(tasks)))
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = concurrent.futures.ThreadPoolExecutor(4)
    pool = ThreadPool(4, "bench")

    def stock(value: int) -> Awaitable[Any]:
        return loop.run_in_executor(executor, work, value)

    def ours(value: int) -> Awaitable[Any]:
        return pool.run(work, value)

    results: dict[str, list[float]] = {"run_in_executor": [], "ThreadPool": []}
    for _ in range(args.rounds):
        results["run_in_executor"].append(
            loop.run_until_complete(per_call_us(stock, args.calls, args.tasks))
        )
        results["ThreadPool"].append(
            loop.run_until_complete(per_call_us(ours, args.calls, args.tasks))
        )
    print(f"{args.tasks} tasks, 4 threads, {args.calls} calls per round, {args.rounds} rounds")
    for name, values in results.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name:<16} median {statistics.median(values):6.1f} us/call  ({shown})")
    pool.shutdown()
    executor.shutdown()


if __name__ == "__main__":
    main()
