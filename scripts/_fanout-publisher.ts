/**
 * Private to `scripts/bench-fanout.ts`: the publisher, run in a worker thread of the load
 * generator so that reading tens of thousands of events per second on the main thread cannot
 * delay the publishing schedule.
 *
 * Open loop: message `k` of a job is due at `t0 + k / rate` whatever the server does, and is
 * written on a free keep-alive connection from a pool (grown up to `pool` raw sockets, each with
 * one request in flight; HTTP/1.1 without pipelining, which not every server supports). When all
 * are busy (the server answers slower than the rate) messages wait in order; their text carries
 * the scheduled time, so the wait counts as latency, and the report gives the lag.
 *
 * Started by `_fanout-loadgen.ts` with `workerData.role === "publisher"`; it posts `"ready"`, then
 * answers each `PublishJob` posted to it with one `PublishReport`.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { nowUs, publishBody } from "./_fanout-message.ts";

/** `ports`: the servers to post to; the pool's connections are spread over them in turn. */
export type PublisherData = { role: "publisher"; host: string; ports: number[]; pool: number };

export type PublishJob = {
  /** Echoed in the report (a late report of an abandoned job is told apart). */
  id: number;
  /** Sequence number of the job's first message; message k has seq `firstSeq + k`. */
  firstSeq: number;
  count: number;
  /** Messages per second, all rooms together. */
  rate: number;
  /** Message k goes to `rooms[k % rooms.length]`. */
  rooms: string[];
};

export type PublishReport = {
  id: number;
  sent: number;
  /** Answers with status 201. */
  created: number;
  /** Other answers by status; 0 = the connection failed before an answer. */
  failures: Record<string, number>;
  /** Scheduled time of message 0 (µs, monotonic clock). */
  startUs: number;
  /** When the last answer arrived (µs). */
  endUs: number;
  /** Actual write time − scheduled time, ms: median and max over the job's messages. */
  lagMs: { p50: number; max: number };
  /** Connections the pool opened. */
  connections: number;
};

type Pending = { room: string; body: string; scheduledUs: number };

/** One keep-alive connection with at most one request in flight. */
/** The `Cookie:` header line of the session the server gave the first answer, if any ("" until then). */
let sessionCookie = "";

class PublishConnection {
  readonly socket: Socket;
  readonly port: number;
  busy = false;
  closed = false;
  #response = "";
  #onAnswer: (status: number) => void;

  constructor(host: string, port: number, onAnswer: (connection: PublishConnection, status: number) => void) {
    this.#onAnswer = (status) => onAnswer(this, status);
    this.port = port;
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setEncoding("latin1");
    this.socket.on("data", (text: string) => this.#onData(text));
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
      if (this.busy) this.#onAnswer(0);
    });
  }

  send(request: string): void {
    this.busy = true;
    this.#response = "";
    this.socket.write(request);
  }

  #onData(text: string): void {
    this.#response += text;
    const end = this.#response.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.#response.slice(0, end);
    // Keep the session a server hands out, as a browser would: later posts send it back.
    if (sessionCookie === "") {
      const cookie = /\r\nset-cookie:[ \t]*([^;\r]+)/i.exec(head);
      if (cookie) sessionCookie = `Cookie: ${cookie[1]}\r\n`;
    }
    const body = this.#response.length - end - 4;
    const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    if (length) {
      if (body < Number(length[1])) return;
    } else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
      if (!this.#response.endsWith("0\r\n\r\n")) return;
    }
    this.busy = false;
    this.#response = "";
    this.#onAnswer(Number(head.slice(9, 12)));
  }
}

function runPublisher(data: PublisherData): void {
  const port = parentPort!;
  let pool: PublishConnection[] = [];

  port.on("message", (job: PublishJob) => {
    // A fresh pool per job: servers close idle keep-alive connections between jobs (Node: 5 s).
    for (const connection of pool) connection.socket.destroy();
    pool = [];
    const queue: Pending[] = [];
    const lags: number[] = [];
    const report: PublishReport = {
      id: job.id,
      sent: 0,
      created: 0,
      failures: {},
      startUs: nowUs() + 20_000,
      endUs: 0,
      lagMs: { p50: 0, max: 0 },
      connections: 0,
    };
    let answered = 0;
    let next = 0;

    const onAnswer = (connection: PublishConnection, status: number) => {
      answered++;
      if (status === 201) report.created++;
      else report.failures[status] = (report.failures[status] ?? 0) + 1;
      if (status === 0) connection.busy = false;
      if (answered === job.count) {
        report.endUs = nowUs();
        lags.sort((a, b) => a - b);
        report.lagMs = { p50: lags[Math.floor(lags.length / 2)] ?? 0, max: lags[lags.length - 1] ?? 0 };
        for (const c of pool) c.socket.destroy();
        pool = [];
        port.postMessage(report);
        return;
      }
      pump();
    };

    const pump = () => {
      while (queue.length > 0) {
        pool = pool.filter((c) => !c.closed);
        // Posts go to the servers in turn (one server: always that one).
        const port = data.ports[report.sent % data.ports.length]!;
        let connection = pool.find((c) => !c.busy && c.port === port);
        if (!connection) {
          if (pool.filter((c) => c.port === port).length >= Math.ceil(data.pool / data.ports.length)) return;
          connection = new PublishConnection(data.host, port, onAnswer);
          pool.push(connection);
          report.connections++;
        }
        const pending = queue.shift()!;
        lags.push((nowUs() - pending.scheduledUs) / 1000);
        report.sent++;
        connection.send(
          `POST /rooms/${pending.room}/messages HTTP/1.1\r\nHost: ${data.host}:${connection.port}\r\n${sessionCookie}` +
            `Content-Type: application/json\r\nContent-Length: ${pending.body.length}\r\n\r\n${pending.body}`,
        );
      }
    };

    const tick = () => {
      const now = nowUs();
      while (next < job.count) {
        const scheduledUs = report.startUs + (next * 1e6) / job.rate;
        if (scheduledUs > now) break;
        const seq = job.firstSeq + next;
        const room = job.rooms[next % job.rooms.length]!;
        const body = publishBody(seq, scheduledUs);
        queue.push({ scheduledUs, room, body });
        next++;
      }
      pump();
      if (next < job.count) {
        const dueUs = report.startUs + (next * 1e6) / job.rate;
        setTimeout(tick, Math.max(0, (dueUs - nowUs()) / 1000));
      }
    };
    setTimeout(tick, 20);
  });
}

if (workerData?.role === "publisher") {
  runPublisher(workerData as PublisherData);
  parentPort!.postMessage("ready");
}
