from django.urls import path, re_path

from .consumers import NotificationConsumer, RoomConsumer

ws_urlpatterns = [
    re_path(r'ws/chat/(?P<room_name>\w+)/$', RoomConsumer.as_asgi()),
    path('notifications/', NotificationConsumer.as_asgi()),
]
