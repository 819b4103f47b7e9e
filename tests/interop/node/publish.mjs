// Sends {"type": "name.gossip", ...} to every member of the group "gossip"
// of channels-server (--redis) or Django Channels (RedisPubSubChannelLayer).
import { createClient } from 'redis';

const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
await client.connect();
await client.publish('asgi__group__gossip', JSON.stringify({
  type: 'name.gossip', event: 'New Post', sender: 'node', message: 'hello',
}));
await client.close();
