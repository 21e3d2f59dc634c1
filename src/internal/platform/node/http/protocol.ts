// Messages between a blocked thread and the HTTP helper worker. Each client thread has its own
// MessagePort to the helper and a small shared cell: the helper posts a reply on the port, then
// bumps the cell and wakes the client, which reads the reply with receiveMessageOnPort.
import type { Deadline } from '../../../deadline.js';
import type { WireError } from '../../../error-codec.js';

/** Sent by the thread that owns the helper, once per client port. */
export interface ConnectMessage {
  port: import('node:worker_threads').MessagePort;
}

/** First message on a client port: where to signal replies. */
export interface HelloMessage {
  type: 'hello';
  /** Int32Array over it: [REPLIES] counts replies posted, [GONE] is 1 once the helper is exiting. */
  cell: SharedArrayBuffer;
}

export interface RequestMessage {
  type: 'request';
  id: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  allowedHosts: readonly string[];
  maxResponseBytes: number;
  /** Sent as the number it is: the clock reads alike on every thread (see deadline.ts). */
  deadline: Deadline;
}

/** The client stopped waiting for request `id` (its deadline passed). */
export interface CancelMessage {
  type: 'cancel';
  id: number;
}

export type ClientMessage = HelloMessage | RequestMessage | CancelMessage;

export type ReplyMessage =
  | { id: number; ok: true; status: number; headers: Record<string, string>; body: Uint8Array }
  | { id: number; ok: false; error: WireError };

/** Index of the reply counter in the cell. */
export const REPLIES = 0;
/** Index of the "helper is gone" flag in the cell. */
export const GONE = 1;
export const CELL_BYTES = 8;
