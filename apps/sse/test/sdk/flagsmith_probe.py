"""Runs the official Flagsmith Python SDK in real-time mode and reports what it does.

Started by python-sdk.test.ts with FLAGSMITH_API_URL, FLAGSMITH_REALTIME_URL and
FLAGSMITH_SERVER_KEY. The SDK runs unchanged; two of its calls are wrapped only to
observe them, each wrapper passing through to the original:

- every stream request (``requests.get`` on a ``/stream`` URL) prints
  ``{"stream_request": <seconds since start>}``;
- every stream event handled prints ``{"handled": <updated_at>}`` once the SDK's
  own ``handle_stream_event`` (which refetches the document if newer) has returned.

Prints ``{"ready": true}`` once the client is built. Exits when stdin closes.
"""

import json
import logging
import os
import sys
import threading
import time

import requests
from flagsmith import Flagsmith

started = time.monotonic()
lock = threading.Lock()


def report(**fields):
    with lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


original_get = requests.get


def observed_get(url, *args, **kwargs):
    if "/stream" in url:
        report(stream_request=time.monotonic() - started)
    return original_get(url, *args, **kwargs)


# The stream manager calls requests.get at each (re)connect; the SDK's API calls go through a
# Session, so only stream requests pass here.
requests.get = observed_get

original_handle = Flagsmith.handle_stream_event


def observed_handle(self, event):
    try:
        original_handle(self, event)
    finally:
        report(handled=event["updated_at"].timestamp())


Flagsmith.handle_stream_event = observed_handle

# The SDK logs stream errors with logger.exception: keep them visible on stderr.
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

Flagsmith(
    environment_key=os.environ["FLAGSMITH_SERVER_KEY"],
    api_url=os.environ["FLAGSMITH_API_URL"],
    realtime_api_url=os.environ["FLAGSMITH_REALTIME_URL"],
    enable_local_evaluation=True,
    enable_realtime_updates=True,
)
report(ready=True)
sys.stdin.read()
