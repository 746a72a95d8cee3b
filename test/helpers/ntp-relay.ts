import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

export interface NtpRelay {
  /** host:port, for the monitor's (or chronyd's) configuration. */
  readonly address: string;
  readonly port: number;
  /** Forwards the next queries to this server. */
  to(port: number): void;
  answersFrom(port: number): number;
  close(): void;
}

/**
 * A UDP relay on 127.0.0.1 that forwards each NTP query to the server of the moment (`to`) and its
 * answer back: the client is configured with the relay's port once, and the test changes servers
 * in one step, with no server stopped under a round in flight and no port given up and taken
 * again. It counts the answers it relays from each server. With `dropStale`, an answer that comes
 * back from a server after `to` named another is dropped: the switch is then a clean step, with
 * nothing measured before it arriving after it.
 */
export async function ntpRelay(port: number, { dropStale = false } = {}): Promise<NtpRelay> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const upstreams = new Set<Socket>();
  const answers = new Map<number, number>();
  let target = port;
  socket.on('message', (query, client) => {
    const server = target;
    const upstream = createSocket('udp4');
    upstreams.add(upstream);
    upstream.on('error', () => undefined);
    upstream.once('message', (answer) => {
      upstream.close();
      upstreams.delete(upstream);
      if (dropStale && server !== target) return;
      answers.set(server, (answers.get(server) ?? 0) + 1);
      socket.send(answer, client.port, client.address);
    });
    upstream.send(query, server, '127.0.0.1');
  });
  const relayPort = socket.address().port;
  return {
    address: `127.0.0.1:${relayPort}`,
    port: relayPort,
    to: (next: number) => (target = next),
    answersFrom: (server: number) => answers.get(server) ?? 0,
    close: () => {
      for (const upstream of upstreams) upstream.close();
      socket.close();
    },
  };
}
