"""Publish a Flagsmith environment update straight to NATS JetStream, without HTTP.

Every flagsmith-rt instance following the stream fans it out, exactly as if it had
come through POST /sse/environments/<key>/queue-change. This does what the service's
own write path (and the TypeScript publishUpdate) does: a Nats-Msg-Id for dedupe, no
write when the stream already holds the same or a newer timestamp, and
compare-and-set with Nats-Expected-Last-Subject-Sequence, retried on conflict.

    pip install nats-py==2.15.0
    python publish_direct.py <environment-key> <updated_at> [--nats nats://127.0.0.1:4222]

<updated_at> is epoch seconds (above 2e10: milliseconds) or an ISO-8601 date-time
(naive means UTC), e.g. 2024-12-26T16:18:08.760000+00:00. Prints published,
duplicate or stale; exits 1 on failure (then retry).
"""

import argparse
import asyncio
import json
import os
import re
from datetime import datetime, timezone

import nats
from nats.js.errors import APIError, NotFoundError

STREAM = "environments-stream"
SUBJECT_PREFIX = "flagsmith.environment."
MILLISECONDS_THRESHOLD = 2e10
# JetStream's err_code for "wrong last sequence": another writer moved the subject.
WRONG_LAST_SEQUENCE = {10071, 10164}
MAX_ATTEMPTS = 5
# A key becomes a subject token: only these characters, 1 to 128 of them.
ENVIRONMENT_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def to_seconds(value):
    """Epoch seconds from a number, digit string or ISO-8601 string (the queue-change rules)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"not a timestamp: {value!r}")
    seconds = float(value)
    return seconds / 1000 if seconds > MILLISECONDS_THRESHOLD else seconds


def message_id(environment_key, seconds):
    """The Nats-Msg-Id the service uses: <key>:<seconds as JavaScript prints them>."""
    text = repr(seconds)
    return f"{environment_key}:{text[:-2] if text.endswith('.0') else text}"


async def read_last(js, subject):
    """(sequence, seconds or None) of the subject's last message, or None if it has none."""
    try:
        msg = await js.get_last_msg(STREAM, subject, direct=True)
    except NotFoundError:
        return None
    try:
        return msg.seq, to_seconds(json.loads(msg.data)["updated_at"])
    except (ValueError, KeyError, TypeError):
        return msg.seq, None  # not an update: overwrite it


async def publish_update(js, environment_key, updated_at):
    """Writes one update with compare-and-set; returns published, duplicate or stale."""
    if not ENVIRONMENT_KEY.fullmatch(environment_key):
        raise ValueError(f"not an environment key: {environment_key!r}")
    seconds = to_seconds(updated_at)
    subject = SUBJECT_PREFIX + environment_key
    # The same bytes the service writes, e.g. {"updated_at": 1735229888.76}.
    payload = json.dumps({"updated_at": seconds}).encode()
    last = await read_last(js, subject)
    for _ in range(MAX_ATTEMPTS):
        if last is not None and last[1] is not None:
            if seconds == last[1]:
                return "duplicate"
            if seconds < last[1]:
                return "stale"  # never move the stream backwards
        headers = {
            "Nats-Msg-Id": message_id(environment_key, seconds),
            "Nats-Expected-Last-Subject-Sequence": str(last[0] if last else 0),
        }
        try:
            ack = await js.publish(subject, payload, headers=headers)
            return "duplicate" if ack.duplicate else "published"
        except APIError as error:
            if error.err_code not in WRONG_LAST_SEQUENCE:
                raise
        last = await read_last(js, subject)  # someone wrote meanwhile: decide again
    raise RuntimeError(f"{MAX_ATTEMPTS} conflicting writes in a row on {subject}; retry later")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environment_key")
    parser.add_argument("updated_at")
    parser.add_argument("--nats", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    args = parser.parse_args()
    nc = await nats.connect(args.nats.split(","))
    try:
        print(await publish_update(nc.jetstream(), args.environment_key, args.updated_at))
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
