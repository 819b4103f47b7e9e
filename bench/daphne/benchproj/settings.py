"""Settings of the Daphne peer of the benchmark (bench/run.sh).

CHANNEL_LAYER=memory (default): channels.layers.InMemoryChannelLayer.
CHANNEL_LAYER=redis: channels_redis' RedisPubSubChannelLayer on REDIS_URL
(default redis://127.0.0.1:6379), prefix LAYER_PREFIX (default asgi),
payloads LAYER_FORMAT=msgpack (default, channels_redis' own) or json.
"""
import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["daphne", "channels", "chat"]
ROOT_URLCONF = "benchproj.urls"
ASGI_APPLICATION = "benchproj.asgi.application"
DATABASES = {}
USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"level": "WARNING"}}

if os.environ.get("CHANNEL_LAYER", "memory") == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": ("chat.layers.JsonRedisPubSubChannelLayer"
                        if os.environ.get("LAYER_FORMAT") == "json"
                        else "channels_redis.pubsub.RedisPubSubChannelLayer"),
            "CONFIG": {
                "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")],
                "prefix": os.environ.get("LAYER_PREFIX", "asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # The default capacity (100) drops messages under load; the peer
            # is measured at its best, so give it room.
            "CONFIG": {"capacity": 100000},
        }
    }
