"""RedisPubSubChannelLayer with JSON payloads instead of msgpack, for
publishers that PUBLISH JSON (LAYER_FORMAT=json; channels-server's
--redis-format json is the same wire)."""
import json

from channels_redis.pubsub import RedisPubSubChannelLayer


class JsonRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    def serialize(self, message):
        return json.dumps(message).encode()

    def deserialize(self, message):
        return json.loads(message)
