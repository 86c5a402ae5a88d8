"""What the processes a region starts print reaches its page, as in a notebook: a process
started with its standard output left alone (``subprocess.run([...])``, no capture) writes into
a pipe whose reader hands the text to the region's output; waiting for the process
(``wait``, ``communicate``, ``run``) also waits for the last of its output, so the page shows
it in the order it happened. Output a region captures itself (``capture_output=True``) is
its own business, and its standard error still goes to the page's log. A process still
printing after the region that started it has ended (a server left running) prints to the
page's log from then on: its timing must not become a later region's output. So does one
that floods past the region's output cap, where the engine's bound on a page's output
(``output-limit``) applies as to any flood.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

_DRAIN_SECONDS = 5.0  # a process's own children may hold the pipe open: wait that long at most
_region = [0]  # which region is running (counted); 0 once the regions are over


def region_started(number: int) -> None:
    """Say which region runs now (numbered from 1); 0: none any more."""
    _region[0] = number


def capture_process_output(active: Callable[[], bool]) -> None:
    """Route the standard output of processes started while ``active()`` to ``sys.stdout``."""
    original_init, original_wait = subprocess.Popen.__init__, subprocess.Popen.wait

    def init(process: Any, *args: Any, **kwargs: Any) -> None:
        if not active() or len(args) > 4 or kwargs.get("stdout") is not None:
            original_init(process, *args, **kwargs)  # its output is the region's to handle
            return
        read, write = os.pipe()
        try:
            original_init(process, *args, **{**kwargs, "stdout": write})
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)  # the process holds its own copy: end of file when it ends
        reader = threading.Thread(target=_copy, args=(read, _region[0]), daemon=True,
                                  name="d2l-process-output")
        reader.start()
        process._d2l_output = reader

    def wait(process: Any, timeout: float | None = None) -> int:
        code = original_wait(process, timeout)
        reader = getattr(process, "_d2l_output", None)
        if reader is not None:  # once: run() and a context manager wait twice
            process._d2l_output = None
            reader.join(_DRAIN_SECONDS)
        return code

    subprocess.Popen.__init__, subprocess.Popen.wait = init, wait


def _copy(descriptor: int, region: int) -> None:
    """Everything readable from ``descriptor``: as text onto ``sys.stdout`` while ``region``
    (the one that started the process) runs, then as bytes onto the page's log."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while chunk := os.read(descriptor, 65536):
            # past the region's output cap, a flood goes where the engine bounds floods
            if _region[0] == region and not getattr(sys.stdout, "cut", False):
                text = decoder.decode(chunk)
                if text:
                    sys.stdout.write(text)
            else:
                os.write(1, chunk)
        tail = decoder.decode(b"", final=True)
        if tail and _region[0] == region:
            sys.stdout.write(tail)
    except Exception:  # noqa: BLE001 - a region past its output cap: the rest is dropped
        pass
    finally:
        os.close(descriptor)
