"""The seed chapter's consumers, as the benchmark peer.

RoomConsumer is the seed's, except that the client sends only "message":
the username is the client's if it gave one, else u<id> of the connection
(as the other peers do).
"""
import itertools
import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer

_ids = itertools.count(1)


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_name = self.scope['url_route']['kwargs']['room_name']
        self.room_group_name = 'chat_%s' % self.room_name
        self.username = 'u%d' % next(_ids)
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        text_data_json = json.loads(text_data or bytes_data)
        message = text_data_json['message']
        username = text_data_json.get('username') or self.username
        await self.channel_layer.group_send(
            self.room_group_name,
            {'type': 'chat.message', 'message': message, 'username': username})

    async def chat_message(self, event):
        await self.send(text_data=json.dumps(
            {'message': event['message'], 'username': event['username']}))


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.channel_layer.group_add("gossip", self.channel_name)

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard("gossip", self.channel_name)

    async def name_gossip(self, event):
        await self.send_json(event)
