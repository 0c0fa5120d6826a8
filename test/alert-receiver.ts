/**
 * A real HTTP receiver for alert deliveries, as an operator would run one:
 * every request is verified with the official `standardwebhooks` library
 * (the receiver's side is outside Tidemark), and recorded with its
 * webhook-id, whether it verified and what was answered. `failFirst` answers
 * 500 to that many requests before acknowledging; `acknowledged` lists the
 * deliveries it answered 2xx (each id once, as a deduping receiver would).
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedAlert {
  webhookId: string;
  verified: boolean;
  status: number;
  body: { type: string; timestamp: string; data: { tenant: string; rule: string; value: number; threshold: number; since: string } } | null;
  raw: string;
}

export interface AlertReceiver {
  url: string;
  received: ReceivedAlert[];
  /** The first 2xx answer of each webhook-id (204), in order; a repeat of an acknowledged id gets 200 and is not listed. */
  acknowledged(): ReceivedAlert[];
  /** Answer 500 to the next `n` requests. */
  failNext(n: number): void;
  /** The secret requests are verified against (set once the target is set). */
  secret: string;
  close(): Promise<void>;
}

function headerRecord(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : (value ?? "")]));
}

export async function startAlertReceiver(options: { failFirst?: number } = {}): Promise<AlertReceiver> {
  let failures = options.failFirst ?? 0;
  const received: ReceivedAlert[] = [];
  const receiver: AlertReceiver = {
    url: "",
    received,
    secret: "",
    acknowledged: () => received.filter((r) => r.status === 204),
    failNext: (n) => (failures = n),
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const webhookId = String(request.headers["webhook-id"] ?? "");
      let verified = false;
      let body: ReceivedAlert["body"] = null;
      try {
        body = new Webhook(receiver.secret).verify(raw, headerRecord(request.headers)) as ReceivedAlert["body"];
        verified = true;
      } catch {
        verified = false;
      }
      // A duplicate of an acknowledged id is acknowledged again (and not counted twice by acknowledged()).
      const duplicate = received.some((r) => r.webhookId === webhookId && r.status === 204);
      const status = !verified ? 401 : failures > 0 ? 500 : duplicate ? 200 : 204;
      if (verified && failures > 0) failures--;
      received.push({ webhookId, verified, status, body, raw });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  return receiver;
}
