'use strict';
// Node `ws` peer of the benchmark: chat rooms by URL path, in process.
// A text message {"message": ...} is broadcast as {"message": ..., "username": "u<id>"}
// to every member of the sender's room, the sender included.
// usage: node server.js PORT [HOST]
const http = require('http');
const { WebSocketServer } = require('ws');

const port = parseInt(process.argv[2] || '8000', 10);
const host = process.argv[3] || '127.0.0.1';
const rooms = new Map();
let nextId = 1;

const server = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const path = req.url.split('?')[0];
  const id = nextId++;
  let room = rooms.get(path);
  if (!room) {
    room = new Set();
    rooms.set(path, room);
  }
  room.add(ws);
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch (e) {
      return;
    }
    if (!msg || typeof msg.message !== 'string') return;
    const out = JSON.stringify({ message: msg.message, username: 'u' + id });
    for (const member of room) {
      if (member.readyState === 1) member.send(out);
    }
  });
  ws.on('close', () => {
    room.delete(ws);
    if (room.size === 0) rooms.delete(path);
  });
  ws.on('error', () => {});
});

server.listen(port, host, () => {
  console.error(`node-ws listening on ${host}:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
