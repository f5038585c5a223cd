// Original file: ../../protos/session/v1/session.proto

import type { Revocation as _session_v1_Revocation, Revocation__Output as _session_v1_Revocation__Output } from '../../session/v1/Revocation';

export interface WatchRevocationsResponse {
  /**
   * Oldest first. Empty in a heartbeat (one every second of quiet). A response carries
   * at most a few thousand session ids in all, however many sessions one call ended:
   * a large revocation arrives split over several events.
   */
  'revocations'?: (_session_v1_Revocation)[];
  /**
   * Pass as WatchRevocationsRequest.cursor to resume after this response.
   */
  'cursor'?: (string);
  /**
   * The request's cursor is not one the service still knows (its revocation stream was
   * lost or replaced), so the replay started from the oldest retained revocation and
   * revocations may have been missed. A cursor merely too old to be retained is not
   * reported here: everything dropped since then had expired anyway.
   */
  'cursor_reset'?: (boolean);
  /**
   * Set on the response that ends the replay: from here on revocations arrive live.
   */
  'caught_up'?: (boolean);
}

export interface WatchRevocationsResponse__Output {
  /**
   * Oldest first. Empty in a heartbeat (one every second of quiet). A response carries
   * at most a few thousand session ids in all, however many sessions one call ended:
   * a large revocation arrives split over several events.
   */
  'revocations': (_session_v1_Revocation__Output)[];
  /**
   * Pass as WatchRevocationsRequest.cursor to resume after this response.
   */
  'cursor': (string);
  /**
   * The request's cursor is not one the service still knows (its revocation stream was
   * lost or replaced), so the replay started from the oldest retained revocation and
   * revocations may have been missed. A cursor merely too old to be retained is not
   * reported here: everything dropped since then had expired anyway.
   */
  'cursor_reset': (boolean);
  /**
   * Set on the response that ends the replay: from here on revocations arrive live.
   */
  'caught_up': (boolean);
}
