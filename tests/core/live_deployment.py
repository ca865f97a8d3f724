"""One deployment of the two-deployments test (tests/core/test_live.py), run in its own process
with its own REDIS_URL: it follows a topic through the real channel layer and prints each message
it hears, and publishes through `apps.core.live.publish` when told on stdin. One JSON object a line.

    python -m tests.core.live_deployment <name> <topic>
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import django


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def main(name: str, topic: str) -> None:
    from channels.layers import get_channel_layer
    from django.conf import settings

    from apps.core.live import publish

    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add(topic, channel)

    async def listen() -> None:
        while True:
            message = await layer.receive(channel)
            say(heard=message["data"])

    listener = asyncio.create_task(listen())
    say(ready=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"])
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        label = json.loads(line)["publish"]
        await asyncio.to_thread(publish, topic, {"from": name, "label": label})
        say(published=label)
    listener.cancel()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
    django.setup()
    asyncio.run(main(sys.argv[1], sys.argv[2]))
