"""ASGI entry point: WebSockets only (the seed's routing)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproj.settings")

import django  # noqa: E402

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import ws_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "websocket": URLRouter(ws_urlpatterns),
})
