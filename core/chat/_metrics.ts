/**
 * Private: the operational figures of `GET /metrics`, in the Prometheus text exposition format
 * (version 0.0.4). Counting happens on the hot path, so it is plain number increments; the text
 * is built only when scraped.
 *
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 * @module
 */
import type { StreamObserver } from "../mod.ts";
import type { HubStats } from "./hub.ts";

/** Upper bounds of the publish latency histogram, in seconds. */
const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] as const;

/**
 * The app's counters. One instance per app.
 *
 * @example
 * ```ts
 * import { ChatMetrics } from "./_metrics.ts";
 * const metrics = new ChatMetrics();
 * metrics.observer.sent?.(120);
 * metrics.publishTook(0.4);
 * console.log(metrics.render({ rooms: 1, subscribers: 1 }));
 * ```
 */
export class ChatMetrics {
  #deliveries = 0;
  #bytes = 0;
  #overflows = 0;
  #timeouts = 0;
  #replayed = 0;
  #publishes = 0;
  #publishSeconds = 0;
  readonly #buckets: number[] = LATENCY_BUCKETS.map(() => 0);

  /** Given to every event stream the app opens. */
  readonly observer: StreamObserver = {
    sent: (bytes) => {
      this.#deliveries++;
      this.#bytes += bytes;
    },
    cut: (reason) => {
      if (reason === "overflow") this.#overflows++;
      else this.#timeouts++;
    },
  };

  /**
   * Records events replayed to a new subscriber before its live ones.
   *
   * @param count How many.
   */
  replayedEvents(count: number): void {
    this.#replayed += count;
  }

  /**
   * Records how long one publish took, from the hub call until it had handed the message to
   * every local subscriber's connection.
   *
   * @param ms Milliseconds.
   */
  publishTook(ms: number): void {
    const seconds = ms / 1000;
    this.#publishes++;
    this.#publishSeconds += seconds;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) this.#buckets[i]!++;
  }

  /**
   * The exposition text.
   *
   * @param stats The hub's counts now.
   * @returns Prometheus text format, ending with a newline.
   */
  render(stats: HubStats): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: readonly string[]) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    metric("eddy_open_streams", "gauge", "Room event streams open now.", [`eddy_open_streams ${stats.subscribers}`]);
    metric("eddy_rooms", "gauge", "Rooms held now.", [`eddy_rooms ${stats.rooms}`]);
    if (stats.retainedBytes !== undefined) {
      metric("eddy_retained_bytes", "gauge", "Bytes of message history held in memory.", [
        `eddy_retained_bytes ${stats.retainedBytes}`,
      ]);
    }
    metric("eddy_deliveries_total", "counter", "Events written to room event streams.", [
      `eddy_deliveries_total ${this.#deliveries}`,
    ]);
    metric("eddy_written_bytes_total", "counter", "Bytes of events written to room event streams.", [
      `eddy_written_bytes_total ${this.#bytes}`,
    ]);
    metric("eddy_slow_reader_disconnects_total", "counter", "Streams cut because their reader fell behind.", [
      `eddy_slow_reader_disconnects_total{reason="overflow"} ${this.#overflows}`,
      `eddy_slow_reader_disconnects_total{reason="timeout"} ${this.#timeouts}`,
    ]);
    metric("eddy_replayed_events_total", "counter", "Events replayed to streams from the history.", [
      `eddy_replayed_events_total ${this.#replayed}`,
    ]);
    metric(
      "eddy_publish_seconds",
      "histogram",
      "From publish until every local subscriber's connection has the message.",
      [
        ...LATENCY_BUCKETS.map((le, i) => `eddy_publish_seconds_bucket{le="${le}"} ${this.#buckets[i]}`),
        `eddy_publish_seconds_bucket{le="+Inf"} ${this.#publishes}`,
        `eddy_publish_seconds_sum ${this.#publishSeconds}`,
        `eddy_publish_seconds_count ${this.#publishes}`,
      ],
    );
    return `${lines.join("\n")}\n`;
  }
}
