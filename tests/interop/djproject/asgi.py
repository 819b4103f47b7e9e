# routing.py of the seed: WebSocket routes only (HTTP is not used here).
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from consumers import NotificationConsumer, RoomConsumer  # noqa: E402

application = ProtocolTypeRouter({
    "websocket": URLRouter([
        re_path(r"ws/chat/(?P<room_name>\w+)/$", RoomConsumer.as_asgi()),
        path("notifications/", NotificationConsumer.as_asgi()),
    ]),
})
